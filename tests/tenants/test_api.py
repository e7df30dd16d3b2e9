"""The REST API for tenants, people and agent setup: scoping, permissions, isolation."""

import pytest
from rest_framework.authtoken.models import Token

from tenants.models import Agent, Membership, MultimediaProfile, Site, Team, WrapUpCode
from tenants.roles import AdminRole, CareProfile
from tests.factories import (
    AgentFactory,
    IdleCodeFactory,
    MultimediaProfileFactory,
    SiteFactory,
    TeamFactory,
    member,
)


@pytest.fixture
def acme_setup(tenant, agent):
    """One of each agent-setup object in Acme (bob's team, site and profile among them)."""
    return {
        "multimedia-profiles": agent.multimedia_profile,
        "sites": agent.site,
        "teams": agent.team,
        "agents": agent,
        "idle-codes": IdleCodeFactory(tenant=tenant),
        "wrap-up-codes": WrapUpCode.objects.create(tenant=tenant, name="Resolved"),
        "memberships": Membership.objects.get(user=agent.user),
        "tenant-policies": tenant.policy,
        "tenants": tenant,
    }


@pytest.fixture
def globex_setup(other_tenant):
    AgentFactory(tenant=other_tenant)
    IdleCodeFactory(tenant=other_tenant)
    WrapUpCode.objects.create(tenant=other_tenant, name="Globex code")


ENDPOINTS = [
    "multimedia-profiles",
    "sites",
    "teams",
    "agents",
    "idle-codes",
    "wrap-up-codes",
    "memberships",
    "tenant-policies",
    "tenants",
]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_owner_lists_only_their_tenants_objects(
    endpoint, owner, acme_setup, globex_setup, api_as, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        response = api_as(owner).get(f"/api/v1/{endpoint}/")

    assert response.status_code == 200
    body = response.json()
    assert "count" in body and "results" in body  # paginated
    ids = {row["id"] for row in body["results"]}
    assert acme_setup[endpoint].pk in ids
    tenant_ids = {row.get("tenant", row["id"]) for row in body["results"]}
    assert tenant_ids == {acme_setup["tenants"].pk}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_an_outsider_gets_404_for_every_object_of_another_tenant(
    endpoint, outsider, acme_setup, api_as
):
    obj = acme_setup[endpoint]
    client = api_as(outsider)

    assert client.get(f"/api/v1/{endpoint}/{obj.pk}/").status_code == 404
    assert (
        client.patch(f"/api/v1/{endpoint}/{obj.pk}/", {"name": "pwned"}, format="json").status_code
        == 404
    )
    assert client.delete(f"/api/v1/{endpoint}/{obj.pk}/").status_code in (404, 405)
    assert obj.pk not in {row["id"] for row in client.get(f"/api/v1/{endpoint}/").json()["results"]}
    obj.refresh_from_db()
    assert getattr(obj, "name", "") != "pwned"


def test_an_owner_builds_the_agent_setup_in_the_seeds_order(owner, tenant, api_as):
    client = api_as(owner)
    profile = client.post(
        "/api/v1/multimedia-profiles/",
        {
            "name": "Chat heavy",
            "max_chat": 4,
            "max_email": 0,
            "max_social": 2,
            "blending": "exclusive",
        },
        format="json",
    )
    assert profile.status_code == 201, profile.json()
    site = client.post(
        "/api/v1/sites/",
        {"name": "Hamburg", "multimedia_profile": profile.json()["id"]},
        format="json",
    )
    assert site.status_code == 201, site.json()
    team = client.post(
        "/api/v1/teams/", {"name": "Billing", "site": site.json()["id"]}, format="json"
    )
    assert team.status_code == 201, team.json()
    agent_user = member(tenant=tenant, care_profile=CareProfile.AGENT)
    agent = client.post(
        "/api/v1/agents/",
        {
            "user": agent_user.pk,
            "team": team.json()["id"],
            "site": site.json()["id"],
            "multimedia_profile": profile.json()["id"],
            "display_name": "Kim",
        },
        format="json",
    )
    assert agent.status_code == 201, agent.json()

    created = Agent.objects.get(pk=agent.json()["id"])
    assert created.tenant == tenant
    assert created.multimedia_profile.blending == "exclusive"


def test_an_object_of_another_tenant_cannot_be_referenced(owner, other_tenant, api_as):
    foreign_profile = MultimediaProfileFactory(tenant=other_tenant)

    response = api_as(owner).post(
        "/api/v1/sites/",
        {"name": "Sneaky", "multimedia_profile": foreign_profile.pk},
        format="json",
    )

    assert response.status_code == 400
    assert "multimedia_profile" in response.json()
    assert not Site.objects.filter(name="Sneaky").exists()


def test_an_outsider_cannot_create_inside_another_tenant(outsider, tenant, api_as):
    response = api_as(outsider).post(
        "/api/v1/multimedia-profiles/", {"tenant": tenant.pk, "name": "X"}, format="json"
    )
    assert response.status_code == 404
    assert not MultimediaProfile.objects.filter(tenant=tenant, name="X").exists()


def test_a_user_who_is_not_an_agent_cannot_be_made_one(owner, tenant, team, api_as):
    not_an_agent = member(tenant=tenant, care_profile=CareProfile.SUPERVISOR)
    response = api_as(owner).post(
        "/api/v1/agents/",
        {
            "user": not_an_agent.pk,
            "team": team.pk,
            "site": team.site.pk,
            "multimedia_profile": team.site.multimedia_profile.pk,
        },
        format="json",
    )
    assert response.status_code == 400
    assert "user" in response.json()


def test_read_only_admins_view_but_cannot_change(tenant, team, api_as):
    reader = member(tenant=tenant, admin_role=AdminRole.READ_ONLY)
    client = api_as(reader)

    assert client.get(f"/api/v1/teams/{team.pk}/").status_code == 200
    response = client.patch(f"/api/v1/teams/{team.pk}/", {"name": "Renamed"}, format="json")
    assert response.status_code == 403
    assert "may not change" in response.json()["detail"]
    assert (
        client.post(
            "/api/v1/teams/", {"name": "New", "site": team.site.pk}, format="json"
        ).status_code
        == 403
    )
    team.refresh_from_db()
    assert team.name == "Support"


def test_supervisors_see_agents_but_not_tenant_configuration(supervisor, agent, api_as):
    client = api_as(supervisor)
    assert client.get(f"/api/v1/agents/{agent.pk}/").status_code == 200
    assert client.get("/api/v1/multimedia-profiles/").json()["results"] == []
    assert (
        client.get(f"/api/v1/memberships/{Membership.objects.get(user=agent.user).pk}/").status_code
        == 404
    )


def test_policies_are_bounded_and_a_bad_value_changes_nothing(owner, tenant, api_as):
    response = api_as(owner).patch(
        f"/api/v1/tenant-policies/{tenant.policy.pk}/",
        {"rona_chat_seconds": 1, "inactivity_close_minutes": 30},
        format="json",
    )

    assert response.status_code == 400
    assert "rona_chat_seconds" in response.json()
    tenant.policy.refresh_from_db()
    assert tenant.policy.rona_chat_seconds == 30
    assert tenant.policy.inactivity_close_minutes == 24 * 60

    ok = api_as(owner).patch(
        f"/api/v1/tenant-policies/{tenant.policy.pk}/", {"rona_chat_seconds": 45}, format="json"
    )
    assert ok.status_code == 200
    tenant.policy.refresh_from_db()
    assert tenant.policy.rona_chat_seconds == 45


def test_changing_a_role_through_the_api_applies_the_role_tables(owner, supervisor, tenant, api_as):
    membership = Membership.objects.get(user=supervisor, tenant=tenant)
    response = api_as(owner).patch(
        f"/api/v1/memberships/{membership.pk}/", {"connect_role": "full_access"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["admin_role"] == "full_admin"
    assert response.json()["care_profile"] == "supervisor"


def test_deleting_a_site_still_in_use_is_a_409_that_says_why(owner, team, api_as):
    response = api_as(owner).delete(f"/api/v1/sites/{team.site.pk}/")
    assert response.status_code == 409
    assert "Support" in response.json()["detail"]
    assert Site.objects.filter(pk=team.site.pk).exists()


def test_lists_filter_by_field(owner, tenant, api_as):
    site_a, site_b = SiteFactory(tenant=tenant), SiteFactory(tenant=tenant)
    TeamFactory(tenant=tenant, site=site_a, name="A-team")
    TeamFactory(tenant=tenant, site=site_b, name="B-team")

    names = [
        row["name"]
        for row in api_as(owner).get(f"/api/v1/teams/?site={site_a.pk}").json()["results"]
    ]
    assert names == ["A-team"]
    assert api_as(owner).get("/api/v1/teams/?tenant=abc").status_code == 400


def test_token_authentication_works_and_anonymous_is_refused(owner, team, api):
    assert api.get("/api/v1/teams/").status_code in (401, 403)
    token = Token.objects.create(user=owner)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert (
        api.get("/api/v1/teams/").json()["count"]
        == Team.objects.filter(tenant=owner.memberships.get().tenant).count()
    )


def test_the_openapi_schema_and_docs_page_are_served(client, db):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/teams/" in schema.content
    assert client.get("/api/docs/").status_code == 200


def test_a_user_exchanges_email_and_password_for_an_api_token(owner, api):
    bad = api.post(
        "/api/v1/auth/token/", {"username": owner.email, "password": "wrong"}, format="json"
    )
    assert bad.status_code == 400

    response = api.post(
        "/api/v1/auth/token/",
        {"username": owner.email, "password": "correct horse battery"},
        format="json",
    )
    assert response.status_code == 200
    api.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert api.get("/api/v1/tenants/").json()["results"][0]["name"] == "Acme"
