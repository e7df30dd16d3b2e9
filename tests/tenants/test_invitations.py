"""Invitations: accepted within 7 days, then 410 until an admin re-issues them."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from tenants import services
from tenants.models import Agent, Invitation, Membership, User
from tenants.roles import AdminRole, CareProfile, ConnectRole

ACCEPT = {
    "full_name": "Dana Doe",
    "password": "a long pass phrase",
    "password_again": "a long pass phrase",
}


@pytest.fixture
def invitation(tenant, owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return services.invitation_create(
            tenant=tenant,
            email="Dana@Example.test",
            invited_by=owner,
            admin_role=AdminRole.READ_ONLY,
        )


def test_inviting_sends_a_mail_with_the_link(invitation):
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["dana@example.test"]
    assert f"/invitations/{invitation.token}/" in mail.outbox[0].body
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)


def test_the_invitee_creates_the_account_and_is_signed_in(client, invitation, tenant):
    response = client.post(f"/invitations/{invitation.token}/", ACCEPT)

    assert response.status_code == 302
    user = User.objects.get(email="dana@example.test")
    assert user.full_name == "Dana Doe"
    membership = Membership.objects.get(user=user, tenant=tenant)
    assert (membership.admin_role, membership.connect_role) == (
        AdminRole.READ_ONLY,
        ConnectRole.READ_ONLY,
    )
    assert client.session["_auth_user_id"] == str(user.pk)
    invitation.refresh_from_db()
    assert invitation.accepted_at is not None


def test_an_invitation_still_works_just_before_seven_days(client, invitation):
    with time_machine.travel(invitation.expires_at - timedelta(seconds=5)):
        response = client.post(f"/invitations/{invitation.token}/", ACCEPT)
    assert response.status_code == 302


def test_after_seven_days_the_link_answers_410_with_a_clear_message(client, invitation):
    with time_machine.travel(invitation.expires_at + timedelta(seconds=1)):
        get = client.get(f"/invitations/{invitation.token}/")
        post = client.post(f"/invitations/{invitation.token}/", ACCEPT)

    assert get.status_code == 410
    assert post.status_code == 410
    assert b"This invitation has expired" in get.content
    assert b"re-issue" in get.content
    assert not User.objects.filter(email="dana@example.test").exists()


def test_an_admin_reissues_an_expired_invitation_and_the_new_link_works(
    client, invitation, owner, api_as
):
    old_token = invitation.token
    with time_machine.travel(invitation.expires_at + timedelta(days=1)):
        response = api_as(owner).post(f"/api/v1/invitations/{invitation.pk}/reissue/")
        assert response.status_code == 200
        assert response.json()["status"] == "pending"
        invitation.refresh_from_db()

        assert client.get(f"/invitations/{old_token}/").status_code == 404
        assert client.post(f"/invitations/{invitation.token}/", ACCEPT).status_code == 302
    assert User.objects.filter(email="dana@example.test").exists()


def test_a_used_invitation_answers_410(client, invitation):
    client.post(f"/invitations/{invitation.token}/", ACCEPT)
    client.logout()

    response = client.get(f"/invitations/{invitation.token}/")
    assert response.status_code == 410
    assert b"already used" in response.content


def test_a_weak_password_is_refused_and_nothing_is_created(client, invitation):
    weak = {**ACCEPT, "password": "password", "password_again": "password"}
    response = client.post(f"/invitations/{invitation.token}/", weak)

    assert response.status_code == 400
    assert not User.objects.filter(email="dana@example.test").exists()
    invitation.refresh_from_db()
    assert invitation.accepted_at is None


def test_an_unknown_token_is_404(client, db):
    assert client.get("/invitations/not-a-token/").status_code == 404


def test_inviting_through_the_api_applies_the_role_tables(owner, api_as, tenant):
    response = api_as(owner).post(
        "/api/v1/invitations/",
        {"email": "erin@example.test", "connect_role": "limited_access"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    invitation = Invitation.objects.get(email="erin@example.test")
    assert (invitation.admin_role, invitation.connect_role) == (
        AdminRole.READ_ONLY,
        ConnectRole.LIMITED_ACCESS,
    )
    assert invitation.tenant == tenant


def test_inviting_a_partner_admin_with_a_care_profile_is_a_400(db, api_as):
    from tenants.roles import TenantKind
    from tests.factories import TenantFactory, member

    partner = TenantFactory(name="Partner", kind=TenantKind.PARTNER)
    admin = member(tenant=partner, admin_role=AdminRole.FULL_ADMIN)
    response = api_as(admin).post(
        "/api/v1/invitations/",
        {
            "tenant": partner.pk,
            "email": "x@example.test",
            "admin_role": "full_admin",
            "care_profile": "agent",
        },
        format="json",
    )

    assert response.status_code == 400
    assert "care console" in str(response.json())
    assert not Invitation.objects.exists()


def test_a_read_only_admin_cannot_invite_or_reissue(tenant, invitation, api_as):
    from tests.factories import member

    reader = member(tenant=tenant, admin_role=AdminRole.READ_ONLY)
    client = api_as(reader)

    assert (
        client.post("/api/v1/invitations/", {"email": "z@example.test"}, format="json").status_code
        == 403
    )
    assert client.post(f"/api/v1/invitations/{invitation.pk}/reissue/").status_code == 403


def test_an_outsider_cannot_see_or_reissue_another_tenants_invitation(invitation, outsider, api_as):
    client = api_as(outsider)
    token_before = invitation.token

    assert client.get(f"/api/v1/invitations/{invitation.pk}/").status_code == 404
    assert client.post(f"/api/v1/invitations/{invitation.pk}/reissue/").status_code == 404
    assert client.get("/api/v1/invitations/").json()["results"] == []
    invitation.refresh_from_db()
    assert invitation.token == token_before


def test_an_outsider_cannot_invite_into_another_tenant(tenant, outsider, api_as):
    response = api_as(outsider).post(
        "/api/v1/invitations/", {"tenant": tenant.pk, "email": "spy@example.test"}, format="json"
    )
    assert response.status_code == 404
    assert not Invitation.objects.filter(email="spy@example.test").exists()


def test_invitations_for_agents_make_agent_memberships(
    tenant, owner, team, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = services.invitation_create(
            tenant=tenant,
            email="agent@example.test",
            invited_by=owner,
            care_profile=CareProfile.AGENT,
        )
    client.post(f"/invitations/{invitation.token}/", ACCEPT)
    membership = Membership.objects.get(user__email="agent@example.test")
    assert membership.care_profile == CareProfile.AGENT
    assert membership.admin_role == AdminRole.NONE
    assert timezone.now() > membership.created_at - timedelta(seconds=1)
    assert Agent.objects.get(user__email="agent@example.test").team == team
