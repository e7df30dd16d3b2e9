"""Supervisors manage canned responses in the care console: the tenant's and their teams' only."""

import pytest

from care_console.models import SupervisorScope
from routing.models import CannedResponse
from tests.routing.factories import make_team


@pytest.fixture
def teams(tenant, supervisor):
    support, sales = (
        make_team(tenant=tenant, name="Support"),
        make_team(tenant=tenant, name="Sales"),
    )
    scope = SupervisorScope.objects.create(tenant=tenant, user=supervisor)
    scope.teams.set([support])
    return support, sales


def test_a_supervisor_adds_edits_and_deletes_a_response_of_their_team(client, supervisor, teams):
    support, _ = teams
    client.force_login(supervisor)

    added = client.post(
        "/care/canned/",
        {
            "shortcut": "refund",
            "title": "Refund",
            "team": support.pk,
            "text": "Hi {{customer.name}}",
        },
    )

    assert added.status_code == 302
    response = CannedResponse.objects.get()
    assert (response.team, response.tenant) == (support, support.tenant)
    edited = client.post(
        f"/care/canned/{response.pk}/",
        {"shortcut": "refund", "title": "Refunds", "team": support.pk, "text": "Sorry!"},
    )
    assert edited.status_code == 302
    response.refresh_from_db()
    assert (response.title, response.text) == ("Refunds", "Sorry!")
    assert client.post(f"/care/canned/{response.pk}/delete/").status_code == 302
    assert not CannedResponse.objects.exists()


def test_another_teams_responses_are_not_the_supervisors(client, supervisor, teams, tenant):
    _, sales = teams
    theirs = CannedResponse.objects.create(
        tenant=tenant, team=sales, shortcut="sales-only", title="Sales only", text="x"
    )
    client.force_login(supervisor)

    listing = client.get("/care/canned/").content.decode()
    refused = client.post(
        "/care/canned/", {"shortcut": "mine", "title": "M", "team": sales.pk, "text": "x"}
    )

    assert "sales-only" not in listing and "Sales only" not in listing
    assert client.get(f"/care/canned/{theirs.pk}/").status_code == 404
    assert client.post(f"/care/canned/{theirs.pk}/delete/").status_code == 404
    assert refused.status_code == 400 and "team" in refused.content.decode()
    assert CannedResponse.objects.count() == 1


def test_agents_and_the_outsider_cannot_manage_responses(client, agent, outsider, tenant):
    response = CannedResponse.objects.create(tenant=tenant, shortcut="hi", title="Hi", text="Hi")
    client.force_login(agent.user)
    assert client.get("/care/canned/").status_code == 403
    client.force_login(outsider)
    assert client.get(f"/care/canned/{response.pk}/").status_code == 404
    assert client.post(f"/care/canned/{response.pk}/delete/").status_code == 404
    assert CannedResponse.objects.filter(pk=response.pk).exists()
