"""Flow runs hold what customers wrote: they need the same permission as transcripts."""

import pytest

from routing.flows import services
from routing.flows.models import FlowRun
from tenants.roles import AdminRole, TenantKind
from tests.factories import TenantFactory, member
from tests.routing.flows.conftest import flow_doc

pytestmark = pytest.mark.django_db

SECRET = "my card is 4111 1111 1111 1111"


@pytest.fixture
def partner(db):
    return TenantFactory(name="Partner", slug="partner", kind=TenantKind.PARTNER)


@pytest.fixture
def tenant(partner):
    return TenantFactory(name="Acme", slug="acme", partner=partner)


@pytest.fixture
def partner_admin(partner):
    return member(tenant=partner, email="paula@partner.test", admin_role=AdminRole.FULL_ADMIN)


@pytest.fixture
def run(publish, conversation, queues) -> FlowRun:
    version = publish(
        flow_doc(
            {
                "set": {
                    "type": "set_variables",
                    "assignments": [{"name": "topic", "value": SECRET}],
                    "next": "route",
                },
                "route": {"type": "queue_task", "queue": "Support", "next": None},
            },
            variables=[{"name": "topic", "type": "string"}],
        )
    )
    return services.flow_run_start(
        version=version, conversation=conversation, trigger="inbound_message"
    )


def test_a_partner_admin_cannot_read_flow_runs_through_the_api(api_as, partner_admin, run):
    api = api_as(partner_admin)

    assert api.get("/api/v1/flow-runs/").json()["results"] == []
    assert api.get(f"/api/v1/flow-runs/{run.pk}/").status_code == 404


def test_the_owner_reads_flow_runs_with_their_steps(api_as, owner, run):
    response = api_as(owner).get(f"/api/v1/flow-runs/{run.pk}/")

    assert response.status_code == 200
    assert SECRET in response.content.decode()


def test_the_outsider_gets_404_for_flow_runs(api_as, outsider, run):
    api = api_as(outsider)

    assert api.get("/api/v1/flow-runs/").json()["results"] == []
    assert api.get(f"/api/v1/flow-runs/{run.pk}/").status_code == 404


def test_a_partner_admin_does_not_see_flow_runs_in_the_console(
    client, partner_admin, owner, tenant, run
):
    client.force_login(partner_admin)
    client.get(f"/admin/switch-tenant/{tenant.pk}/")

    listing = client.get("/admin/flows/flowrun/")
    detail = client.get(f"/admin/flows/flowrun/{run.pk}/change/")

    assert listing.status_code == 403
    assert detail.status_code in (302, 403)
    assert SECRET not in detail.content.decode()

    client.force_login(owner)
    assert SECRET in client.get(f"/admin/flows/flowrun/{run.pk}/change/").content.decode()
