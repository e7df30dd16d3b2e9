"""The dry run may not be used to make the server fetch URLs: a custom definition needs permission
to change flows, and HTTP nodes answer a simulated 200 unless the caller asks and may."""

import pytest
from django.urls import reverse

from routing.flows.models import FlowRun
from tenants.roles import AdminRole
from tests.factories import member
from tests.routing.flows.conftest import flow_doc

pytestmark = pytest.mark.django_db

END = {"type": "set_variables", "assignments": [{"name": "outcome", "value": "x"}], "next": None}


def _http_flow(url: str) -> dict:
    return flow_doc(
        {
            "lookup": {
                "type": "http_request",
                "method": "GET",
                "url": url,
                "next": "done",
                "on_error": "done",
            },
            "done": END,
        },
        variables=[{"name": "outcome", "type": "string"}],
    )


@pytest.fixture
def reader(tenant):
    """rita: read-only admin of Acme (workspace read-only: may view flows, not change them)."""
    return member(tenant=tenant, email="rita@acme.test", admin_role=AdminRole.READ_ONLY)


@pytest.fixture
def http_flow(publish, http_server):
    http_server.routes["/internal"] = (200, {"secret": "internal data"}, 0)
    return publish(_http_flow(http_server.url + "/internal")).flow


def _dry_run(api, flow, **body):
    return api.post(f"/api/v1/flows/{flow.pk}/dry-run/", {"text": "hi", **body}, format="json")


def test_a_read_only_admin_cannot_dry_run_a_definition_of_their_own(
    api_as, reader, http_flow, http_server
):
    response = _dry_run(
        api_as(reader), http_flow, definition=_http_flow(http_server.url + "/internal")
    )

    assert response.status_code == 403
    assert "definition" in response.json()["detail"]
    assert http_server.requests == []


def test_a_read_only_admin_dry_runs_a_stored_version_without_any_request(
    api_as, reader, http_flow, http_server
):
    response = _dry_run(api_as(reader), http_flow)
    asked = _dry_run(api_as(reader), http_flow, http=True)

    assert response.status_code == 200
    action = response.json()["actions"][0]
    assert action["action"] == "http_request" and action["simulated"] is True
    assert "internal data" not in response.content.decode()
    assert asked.status_code == 403
    assert http_server.requests == []


def test_an_owner_gets_simulated_answers_unless_they_ask_for_real_requests(
    api_as, owner, http_flow, http_server
):
    api = api_as(owner)
    custom = _http_flow(http_server.url + "/internal")

    simulated = _dry_run(api, http_flow, definition=custom)
    assert simulated.status_code == 200
    assert simulated.json()["actions"][0]["simulated"] is True
    assert http_server.requests == []

    real = _dry_run(api, http_flow, definition=custom, http=True)
    assert real.status_code == 200
    assert real.json()["actions"][0]["simulated"] is False
    assert [r["path"] for r in http_server.requests] == ["/internal"]
    assert not FlowRun.objects.exists()


def test_the_outsider_cannot_dry_run_acmes_flows(api_as, outsider, http_flow, http_server):
    response = _dry_run(api_as(outsider), http_flow, http=True)

    assert response.status_code == 404
    assert http_server.requests == []


def test_the_console_dry_run_makes_real_requests_only_for_those_who_may(
    client, owner, reader, http_flow, http_server
):
    url = reverse("admin:flows_flow_dry_run", args=[http_flow.pk])
    form = {"text": "hi", "replies": "", "variables": "", "real_http": "on"}

    client.force_login(reader)
    refused = client.post(url, form).content.decode()
    assert "You may not make real requests" in refused
    assert http_server.requests == []

    client.force_login(owner)
    client.post(url, {**form, "real_http": ""})
    assert http_server.requests == []
    client.post(url, form)
    assert [r["path"] for r in http_server.requests] == ["/internal"]
