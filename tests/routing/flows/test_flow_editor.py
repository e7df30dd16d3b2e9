"""The flow page of the admin console and its draft JSON editor: a valid draft is stored, an
invalid one stores nothing and lists each problem at its JSON path, published versions stay
read-only, a read-only admin cannot save, another tenant's admin finds nothing."""

import copy
import json

import pytest
from django.urls import reverse

from routing.flows import services
from routing.flows.models import FlowVersion
from tenants.roles import AdminRole
from tests.factories import member

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(authorized):
    flow = services.flow_import_template(tenant=authorized, template_name="whatsapp_inbound")
    return flow.versions.get()


@pytest.fixture
def draft(published, owner):
    return services.flow_version_create(
        flow=published.flow, definition=published.definition, user=owner, note="draft"
    )


@pytest.fixture
def console(client, owner):
    client.force_login(owner)
    return client


def _url(version: FlowVersion) -> str:
    return reverse("admin:flows_flow_version", args=[version.flow_id, version.number])


def test_the_flow_page_shows_the_whole_json_and_the_diagram_of_the_newest_version(console, draft):
    page = console.get(reverse("admin:flows_flow_change", args=[draft.flow_id])).content.decode()
    assert "Version 2 (Draft)" in page
    assert 'class="flow-json"' in page and "max-height" not in page
    # The whole document is on the page, down to its last node.
    assert "&quot;relaxation_steps&quot;" in page and 'data-node="queue"' in page
    assert "flows/flow_page.css" in page
    assert "Edit this draft&#x27;s JSON" in page or "Edit this draft's JSON" in page
    assert _url(draft) in page


def test_saving_a_valid_draft_stores_it(console, draft):
    document = copy.deepcopy(draft.definition)
    document["nodes"]["greet"]["label"] = "Say hello"
    response = console.post(_url(draft), {"definition": json.dumps(document)})
    assert response.status_code == 302 and response["Location"] == _url(draft)
    draft.refresh_from_db()
    assert draft.definition["nodes"]["greet"]["label"] == "Say hello"
    assert draft.status == FlowVersion.Status.DRAFT
    assert "Say hello" in console.get(_url(draft)).content.decode()


def test_an_invalid_draft_stores_nothing_and_shows_each_problem_at_its_path(console, draft):
    before = copy.deepcopy(draft.definition)
    document = copy.deepcopy(draft.definition)
    document["nodes"]["greet"]["next"] = "x"
    document["nodes"]["queue"]["priority"] = {"not": "allowed"}
    document["nodes"]["set_german"]["assignments"][0]["name"] = "customer"
    response = console.post(_url(draft), {"definition": json.dumps(document)})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was saved." in page
    assert "<code>$.nodes.queue.priority</code>" in page
    draft.refresh_from_db()
    assert draft.definition == before
    # With the shape fixed, the graph problems are listed at their paths too.
    document["nodes"]["queue"]["priority"] = 5
    page = console.post(_url(draft), {"definition": json.dumps(document)}).content.decode()
    assert "<code>$.nodes.greet.next</code> names node &#x27;x&#x27;, which does not exist" in page
    assert "<code>$.nodes.set_german.assignments[0].name</code>" in page
    # The editor keeps what the admin typed, so they can fix it.
    assert "&quot;next&quot;: &quot;x&quot;" in page
    draft.refresh_from_db()
    assert draft.definition == before


def test_text_that_is_not_json_is_refused_with_its_line_and_column(console, draft):
    response = console.post(_url(draft), {"definition": '{"nodes": {\n  "a": }'})
    assert response.status_code == 400
    assert "is not valid JSON: Expecting value at line 2, column 8" in response.content.decode()


def test_a_draft_of_another_kind_is_refused(console, draft):
    document = copy.deepcopy(draft.definition)
    document["kind"] = "task_closed"
    document["nodes"] = {"start": {"type": "start", "trigger": "task_closed", "next": None}}
    document["variables"] = []
    response = console.post(_url(draft), {"definition": json.dumps(document)})
    assert response.status_code == 400
    assert "<code>$.kind</code>" in response.content.decode()


def test_a_published_version_is_read_only(console, published):
    page = console.get(_url(published)).content.decode()
    assert "is published and read-only" in page and "<textarea" not in page
    assert "Start a new draft from this version" in page
    before = copy.deepcopy(published.definition)
    document = copy.deepcopy(published.definition)
    document["nodes"]["greet"]["label"] = "Changed"
    response = console.post(_url(published), {"definition": json.dumps(document)})
    assert response.status_code == 409
    assert "is published and cannot change" in response.content.decode()
    published.refresh_from_db()
    assert published.definition == before


def test_a_new_draft_starts_from_a_published_version(console, published):
    response = console.post(
        reverse("admin:flows_flow_version_new_draft", args=[published.flow_id, published.number])
    )
    draft = published.flow.versions.get(number=2)
    assert response.status_code == 302 and response["Location"] == _url(draft)
    assert draft.status == FlowVersion.Status.DRAFT
    assert draft.definition == published.definition
    assert "<textarea" in console.get(_url(draft)).content.decode()


def test_a_read_only_admin_sees_the_draft_but_cannot_save_it(client, tenant, draft):
    reader = member(tenant=tenant, email="rita@acme.test", admin_role=AdminRole.READ_ONLY)
    client.force_login(reader)
    page = client.get(_url(draft))
    assert page.status_code == 200 and "<textarea" not in page.content.decode()
    document = copy.deepcopy(draft.definition)
    document["nodes"]["greet"]["label"] = "Sneaky"
    before = copy.deepcopy(draft.definition)
    response = client.post(_url(draft), {"definition": json.dumps(document)})
    assert response.status_code == 403
    new_draft = client.post(
        reverse("admin:flows_flow_version_new_draft", args=[draft.flow_id, draft.number])
    )
    assert new_draft.status_code == 403
    draft.refresh_from_db()
    assert draft.definition == before and draft.flow.versions.count() == 2


def test_an_outsider_gets_404_for_another_tenants_flow_versions(client, outsider, draft):
    client.force_login(outsider)
    document = copy.deepcopy(draft.definition)
    before = copy.deepcopy(draft.definition)
    document["nodes"]["greet"]["label"] = "Mine now"
    assert client.get(_url(draft)).status_code == 404
    assert client.post(_url(draft), {"definition": json.dumps(document)}).status_code == 404
    new_draft = client.post(
        reverse("admin:flows_flow_version_new_draft", args=[draft.flow_id, draft.number])
    )
    assert new_draft.status_code == 404
    draft.refresh_from_db()
    assert draft.definition == before and draft.flow.versions.count() == 2


def test_a_version_that_does_not_exist_is_404(console, draft):
    missing = reverse("admin:flows_flow_version", args=[draft.flow_id, 99])
    assert console.get(missing).status_code == 404


def test_a_malformed_flow_id_on_the_flow_page_is_not_found_rather_than_an_error(console, draft):
    response = console.get("/admin/flows/flow/not-a-number/change/")
    assert response.status_code == 302 and response["Location"] == "/admin/"
