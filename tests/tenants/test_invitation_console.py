"""Inviting from the admin console, and invitations that make working agents."""

import re

import pytest
from django.core import mail

from tenants.models import Agent, Invitation
from tenants.roles import CareProfile
from tests.factories import MultimediaProfileFactory, SiteFactory, TeamFactory
from tests.tenants.test_admin_login import sign_in

ACCEPT = {
    "full_name": "Dana Doe",
    "password": "a long pass phrase",
    "password_again": "a long pass phrase",
}


def console_invite(client, **fields):
    data = {
        "email": "dana@example.test",
        "admin_role": "none",
        "connect_role": "none",
        "care_profile": "none",
        "team": "",
        "site": "",
        "multimedia_profile": "",
    }
    data.update({k: v for k, v in fields.items()})
    return client.post("/admin/tenants/invitation/add/", data)


def mailed_link(message) -> str:
    return re.search(r"https?://\S+/invitations/\S+/", message.body).group(0)


def test_an_admin_invites_an_agent_from_the_console_and_a_mail_goes_out(
    client, owner, tenant, team, django_capture_on_commit_callbacks
):
    sign_in(client, owner.email)

    form = client.get("/admin/tenants/invitation/add/")
    assert form.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = console_invite(client, care_profile="agent", team=team.pk)

    assert response.status_code == 302, response.content.decode()[:2000]
    invitation = Invitation.objects.get(email="dana@example.test")
    assert (invitation.tenant, invitation.care_profile) == (tenant, CareProfile.AGENT)
    assert (invitation.team, invitation.site) == (team, team.site)
    assert invitation.multimedia_profile == team.site.multimedia_profile
    assert str(invitation) == "Invitation of dana@example.test to Acme"
    assert len(mail.outbox) == 1
    assert f"/invitations/{invitation.token}/" in mail.outbox[0].body


def test_accepting_an_agent_invitation_makes_a_working_agent(
    client, owner, tenant, team, django_capture_on_commit_callbacks
):
    other_site = SiteFactory(tenant=tenant, name="Lisbon")
    profile = MultimediaProfileFactory(tenant=tenant, name="Chats only", max_chat=5)
    sign_in(client, owner.email)
    with django_capture_on_commit_callbacks(execute=True):
        console_invite(
            client,
            care_profile="agent",
            team=team.pk,
            site=other_site.pk,
            multimedia_profile=profile.pk,
        )
    client.logout()

    link = mailed_link(mail.outbox[0])
    response = client.post("/" + link.split("://", 1)[1].split("/", 1)[1], ACCEPT)

    assert response.status_code == 302
    agent = Agent.objects.get(user__email="dana@example.test")
    assert (agent.tenant, agent.team, agent.site, agent.multimedia_profile) == (
        tenant,
        team,
        other_site,
        profile,
    )
    assert agent.display_name == "Dana Doe"
    home = client.get("/", follow=True)
    assert home.request["PATH_INFO"] == "/desktop/"
    assert b"Nothing here for you yet" not in home.content


def test_an_agent_invitation_takes_the_tenants_only_team_when_none_is_named(
    owner, tenant, team, api_as
):
    response = api_as(owner).post(
        "/api/v1/invitations/",
        {"tenant": tenant.pk, "email": "eve@example.test", "care_profile": "agent"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    invitation = Invitation.objects.get(email="eve@example.test")
    assert (invitation.team, invitation.site) == (team, team.site)
    assert response.json()["team"] == team.pk


def test_an_agent_invitation_without_any_team_is_refused_with_the_reason(owner, tenant, api_as):
    response = api_as(owner).post(
        "/api/v1/invitations/",
        {"tenant": tenant.pk, "email": "eve@example.test", "care_profile": "agent"},
        format="json",
    )

    assert response.status_code == 400
    assert "create a multimedia profile, a site and a team first" in str(response.json())
    assert not Invitation.objects.exists()


def test_an_agent_invitation_must_name_the_team_when_there_are_several(client, owner, tenant, team):
    TeamFactory(tenant=tenant, name="Billing")
    sign_in(client, owner.email)

    response = console_invite(client, care_profile="agent")

    assert response.status_code == 200
    assert b"choose the team the agent works in" in response.content
    assert not Invitation.objects.exists()


def test_a_team_is_refused_for_an_invitee_who_is_not_an_agent(owner, tenant, team, api_as):
    response = api_as(owner).post(
        "/api/v1/invitations/",
        {
            "tenant": tenant.pk,
            "email": "eve@example.test",
            "admin_role": "read_only",
            "team": team.pk,
        },
        format="json",
    )

    assert response.status_code == 400
    assert "only for invitees with the agent profile" in str(response.json())


def test_another_tenants_team_is_not_offered_nor_accepted(
    client, owner, tenant, team, other_tenant, api_as
):
    foreign = TeamFactory(tenant=other_tenant, name="Globex Secret Team")
    sign_in(client, owner.email)

    form = client.get("/admin/tenants/invitation/add/")
    console = console_invite(client, care_profile="agent", team=foreign.pk)
    api = api_as(owner).post(
        "/api/v1/invitations/",
        {
            "tenant": tenant.pk,
            "email": "eve@example.test",
            "care_profile": "agent",
            "team": foreign.pk,
        },
        format="json",
    )

    assert b"Globex Secret Team" not in form.content
    assert console.status_code == 200 and b"Select a valid choice" in console.content
    assert api.status_code == 400
    assert not Invitation.objects.exists()


@pytest.mark.usefixtures("team")
def test_an_outsider_does_not_see_the_tenants_invitations(
    client, owner, outsider, tenant, django_capture_on_commit_callbacks
):
    sign_in(client, owner.email)
    with django_capture_on_commit_callbacks(execute=True):
        console_invite(client, care_profile="agent")
    invitation = Invitation.objects.get()
    client.logout()

    sign_in(client, outsider.email)
    listing = client.get("/admin/tenants/invitation/")
    change = client.get(f"/admin/tenants/invitation/{invitation.pk}/change/")

    assert b"dana@example.test" not in listing.content
    assert change.status_code == 302 and change.url == "/admin/"
