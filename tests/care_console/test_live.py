"""Live monitoring: agents and queues of the supervisor's scope, counted by hand (conftest)."""

from care_console.access import care_scope_for_user
from care_console.selectors import live_snapshot
from tenants.roles import AdminRole, CareProfile, TenantKind
from tests.factories import TenantFactory, member


def test_signing_in_as_a_supervisor_lands_on_the_care_console(supervisor, client_for):
    response = client_for(supervisor).get("/")
    assert response.status_code == 302
    assert response["Location"] == "/care/"


def test_the_home_page_has_the_navigation_and_the_live_view(center, supervisor, client_for):
    response = client_for(supervisor).get("/care/")
    assert response.status_code == 200
    html = response.content.decode()
    for label in ("Live", "Transcripts", "Reports", 'id="queues"', 'id="agents"', "care/live.js"):
        assert label in html


def test_agents_and_partner_admins_get_403_and_strangers_sign_in_first(
    center, agent, client_for, client
):
    partner = TenantFactory(name="Partner", slug="partner", kind=TenantKind.PARTNER)
    center.tenant.partner = partner
    center.tenant.save(update_fields=["partner"])
    partner_admin = member(
        tenant=partner, email="pat@partner.test", admin_role=AdminRole.FULL_ADMIN
    )

    for user in (agent.user, partner_admin):
        for url in ("/care/", "/care/live/state/", "/care/transcripts/", "/care/reports/"):
            assert client_for(user).get(url).status_code == 403, (user, url)
    assert client.get("/care/").status_code == 302


def test_the_supervisor_sees_every_agent_of_their_teams_with_state_load_offers_and_rona(
    center, supervisor, client_for
):
    data = client_for(supervisor).get("/care/live/state/").json()
    agents = {a["name"]: a for a in data["agents"]}

    assert set(agents) == {"Ann", "Ben"}  # Cat is in Sales, not carol's team
    ann, ben = agents["Ann"], agents["Ben"]
    assert ann["state"] == "available"
    assert ann["seconds_in_state"] == 15 * 60
    assert ann["load"]["chat"] == {"engaged": 2, "maximum": 3}
    assert ann["offers"] == 1
    assert ann["conversations"] == 1
    assert ann["rona_today"] == 1  # yesterday's does not count
    # Ben never set a state: signed out, not absent.
    assert ben["state"] == "signed_out"
    assert ben["seconds_in_state"] is None
    assert ben["load"]["chat"]["engaged"] == 0
    assert ben["conversations"] == 0


def test_the_supervisor_sees_their_queues_with_waiting_service_level_and_the_last_hour(
    center, supervisor, client_for
):
    data = client_for(supervisor).get("/care/live/state/").json()

    assert [q["name"] for q in data["queues"]] == ["Support chat"]
    queue = data["queues"][0]
    assert queue["waiting"] == 2  # Gus waiting, Hal offered
    assert queue["longest_wait_seconds"] == 10 * 60  # Gus since 11:50
    assert queue["offered_today"] == 5  # Dana, Erik, Fay, Gus, Hal; Ida was yesterday
    # Answered within 60 s: Dana (30 s); Erik took 120 s; Fay abandoned: 1 of 3.
    assert queue["service_level"] == {
        "met": 1,
        "counted": 3,
        "percent": 33.3,
        "target_percent": 80,
        "threshold_seconds": 60,
    }
    # Every five minutes from 11:00 to 12:00.
    assert queue["waiting_last_hour"] == [1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 2, 2]


def test_the_service_level_target_is_defined_on_the_queue(center, supervisor, client_for):
    center.queue.service_level_seconds = 150
    center.queue.service_level_target_percent = 90
    center.queue.save()
    queue = client_for(supervisor).get("/care/live/state/").json()["queues"][0]
    assert queue["service_level"]["met"] == 2
    assert queue["service_level"]["target_percent"] == 90


def test_a_tenant_admin_sees_every_team_and_queue(center, owner, client_for):
    data = client_for(owner).get("/care/live/state/").json()
    assert {a["name"] for a in data["agents"]} == {"Ann", "Ben", "Cat"}
    assert {q["name"] for q in data["queues"]} == {"Support chat", "Sales chat"}


def test_a_supervisor_without_a_scope_sees_nothing(center, client_for):
    newcomer = member(
        tenant=center.tenant, email="nina@acme.test", care_profile=CareProfile.SUPERVISOR
    )
    response = client_for(newcomer).get("/care/live/state/")
    assert response.status_code == 200
    assert response.json()["agents"] == [] and response.json()["queues"] == []
    assert "No teams or queues are granted" in client_for(newcomer).get("/care/").content.decode()


def test_the_outsider_sees_nothing_of_acme(center, outsider, client_for):
    data = client_for(outsider).get("/care/live/state/").json()
    assert data["agents"] == [] and data["queues"] == [] and data["conversations"] == []


def test_the_snapshot_reads_in_a_fixed_number_of_queries(
    center, owner, django_assert_max_num_queries
):
    from tests.routing.factories import make_queue

    for n in range(5):
        make_queue(tenant=center.tenant, teams=[center.sales], name=f"Extra {n}")
    scope = care_scope_for_user(user=owner, tenant=center.tenant)
    with django_assert_max_num_queries(12):
        live_snapshot(scope=scope)
