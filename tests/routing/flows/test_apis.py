"""The flows REST API: lists, import, versions, publish, migrate, dry run, variables, node
authorizations and calendars; the outsider sees nothing of Acme."""

import pytest

from routing.flows import services
from routing.flows.models import BusinessCalendar, Flow, GlobalVariable, NodeAuthorization
from routing.flows.templates import template_load
from tests.routing.flows.conftest import flow_doc

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.routing.flows.urls")]


@pytest.fixture
def flow(authorized):
    return services.flow_import_template(tenant=authorized, template_name="whatsapp_inbound")


def test_the_owner_lists_and_reads_flows_within_a_bounded_number_of_queries(
    api_as, owner, flow, django_assert_max_num_queries
):
    services.flow_import_template(tenant=flow.tenant, template_name="sms_inbound")
    client = api_as(owner)
    with django_assert_max_num_queries(8):
        response = client.get("/api/v1/flows/")
    assert response.status_code == 200
    assert {f["name"] for f in response.json()["results"]} == {"WhatsApp inbound", "SMS inbound"}
    detail = client.get(f"/api/v1/flows/{flow.pk}/").json()
    assert detail["current_version"] == 1 and detail["template_version"] == 3
    svg = client.get(f"/api/v1/flows/{flow.pk}/diagram/")
    assert svg["Content-Type"] == "image/svg+xml" and b'data-node="queue"' in svg.content
    versions = client.get(f"/api/v1/flows/{flow.pk}/versions/").json()
    assert versions[0]["definition"]["nodes"]["queue"]["queue"] == "Support"


def test_the_outsider_cannot_see_or_touch_acmes_flows(api_as, outsider, flow):
    client = api_as(outsider)
    assert client.get("/api/v1/flows/").json()["results"] == []
    assert client.get(f"/api/v1/flows/{flow.pk}/").status_code == 404
    assert client.get(f"/api/v1/flows/{flow.pk}/diagram/").status_code == 404
    assert (
        client.post(f"/api/v1/flows/{flow.pk}/dry-run/", {"text": "hi"}, format="json").status_code
        == 404
    )
    assert client.post(f"/api/v1/flows/{flow.pk}/publish/", {}, format="json").status_code == 404
    response = client.post(
        "/api/v1/flows/import/",
        {"tenant": flow.tenant_id, "template": "sms_inbound"},
        format="json",
    )
    assert response.status_code == 404
    assert client.get("/api/v1/flow-runs/").json()["results"] == []
    assert (
        client.post(
            "/api/v1/flow-node-authorizations/authorize/",
            {"tenant": flow.tenant_id, "node": "task"},
            format="json",
        ).status_code
        == 404
    )
    assert Flow.objects.count() == 1


def test_importing_a_broken_file_answers_400_with_the_json_paths(api_as, owner, authorized):
    document = flow_doc({"lookup": {"type": "http_request", "method": "FETCH", "url": "ftp://x"}})
    response = api_as(owner).post("/api/v1/flows/import/", {"document": document}, format="json")
    assert response.status_code == 400
    assert {p["path"] for p in response.json()["problems"]} == {
        "$.nodes.lookup.method",
        "$.nodes.lookup.url",
    }
    assert not Flow.objects.exists()


def test_an_agent_may_not_import(api_as, agent, authorized):
    response = api_as(agent.user).post(
        "/api/v1/flows/import/", {"template": "sms_inbound"}, format="json"
    )
    assert response.status_code in (403, 404)
    assert not Flow.objects.exists()


def test_the_owner_imports_adds_a_draft_publishes_and_migrates(api_as, owner, authorized):
    client = api_as(owner)
    response = client.post(
        "/api/v1/flows/import/",
        {"document": template_load("whatsapp_inbound", 1), "name": "WA"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    flow_id = response.json()["flow"]["id"]
    draft = response.json()["version"]["definition"]
    draft["nodes"]["greet"]["text"] = "Hallo!"
    created = client.post(
        f"/api/v1/flows/{flow_id}/versions/", {"definition": draft}, format="json"
    )
    assert created.status_code == 201 and created.json()["status"] == "draft"
    published = client.post(f"/api/v1/flows/{flow_id}/publish/", {"version": 2}, format="json")
    assert published.json()["status"] == "published"
    migrated = client.post(f"/api/v1/flows/{flow_id}/migrate/", {}, format="json").json()
    assert migrated["to_template_version"] == 3 and "greet.text" in migrated["kept_settings"]


def test_the_dry_run_endpoint_returns_the_path_and_variables(api_as, owner, flow):
    response = api_as(owner).post(
        f"/api/v1/flows/{flow.pk}/dry-run/", {"text": "hola"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["variables"]["language"] == "es"
    assert response.json()["path"][-1]["node"] == "queue"


def test_global_variables_are_validated_and_scoped(api_as, owner, outsider, tenant):
    client = api_as(owner)
    bad = client.post(
        "/api/v1/flow-global-variables/",
        {"name": "score", "type": "number", "default": "high", "agent_editable": True},
        format="json",
    )
    assert bad.status_code == 400 and set(bad.json()) == {"default", "agent_editable"}
    good = client.post(
        "/api/v1/flow-global-variables/",
        {"name": "score", "type": "number", "default": "3", "agent_visible": True},
        format="json",
    )
    assert good.status_code == 201 and good.json()["default"] == 3
    variable = GlobalVariable.objects.get(tenant=tenant, name="score")
    assert api_as(outsider).get(f"/api/v1/flow-global-variables/{variable.pk}/").status_code == 404


def test_node_authorization_records_who_and_when(api_as, owner, tenant, outsider):
    response = api_as(owner).post(
        "/api/v1/flow-node-authorizations/authorize/", {"node": "task"}, format="json"
    )
    assert response.status_code == 200 and response.json()["state"] == "authorized"
    row = NodeAuthorization.objects.get(tenant=tenant, node="task")
    assert row.authorized_by == owner and row.authorized_at
    assert api_as(outsider).get(f"/api/v1/flow-node-authorizations/{row.pk}/").status_code == 404
    bad = api_as(owner).post(
        "/api/v1/flow-node-authorizations/authorize/", {"node": "rocket"}, format="json"
    )
    assert bad.status_code == 400


def test_business_calendars_reject_malformed_hours(api_as, owner, tenant):
    client = api_as(owner)
    bad = client.post(
        "/api/v1/flow-business-calendars/",
        {"name": "HQ", "timezone": "Mars/Base", "hours": {"mon": [["18:00", "09:00"]]}},
        format="json",
    )
    assert bad.status_code == 400 and set(bad.json()) == {"timezone", "hours"}
    good = client.post(
        "/api/v1/flow-business-calendars/",
        {
            "name": "HQ",
            "timezone": "Europe/Berlin",
            "hours": {"mon": [["09:00", "17:00"]]},
            "holidays": ["2026-12-25"],
        },
        format="json",
    )
    assert good.status_code == 201
    assert BusinessCalendar.objects.get(tenant=tenant).timezone == "Europe/Berlin"
