"""Nobody grants a role above their own, the last full admin stays, and every change is recorded."""

import pytest

from tenants.models import Invitation, Membership, RoleChange
from tenants.roles import AdminRole, CareProfile, TenantKind
from tests.factories import TenantFactory, member


@pytest.fixture
def cc_admin(tenant):
    """dave: contact-center admin of Acme, below alice the full admin."""
    return member(tenant=tenant, email="dave@acme.test", admin_role=AdminRole.CC_ADMIN)


def _membership(user, tenant) -> Membership:
    return Membership.objects.get(user=user, tenant=tenant)


def test_a_contact_center_admin_cannot_make_themselves_full_admin(cc_admin, tenant, api_as):
    mine = _membership(cc_admin, tenant)

    by_admin_role = api_as(cc_admin).patch(
        f"/api/v1/memberships/{mine.pk}/", {"admin_role": "full_admin"}, format="json"
    )
    # Table 3 turns the workspace owner role into full admin: the same ceiling applies.
    by_connect_role = api_as(cc_admin).patch(
        f"/api/v1/memberships/{mine.pk}/", {"connect_role": "full_access"}, format="json"
    )

    for response in (by_admin_role, by_connect_role):
        assert response.status_code == 403
        assert "above your own" in response.json()["detail"]
    mine.refresh_from_db()
    assert mine.admin_role == AdminRole.CC_ADMIN
    assert not RoleChange.objects.filter(action="changed").exists()


def test_a_contact_center_admin_cannot_demote_or_remove_the_owner(owner, cc_admin, tenant, api_as):
    owners = _membership(owner, tenant)

    demote = api_as(cc_admin).patch(
        f"/api/v1/memberships/{owners.pk}/", {"admin_role": "read_only"}, format="json"
    )
    care = api_as(cc_admin).patch(
        f"/api/v1/memberships/{owners.pk}/", {"care_profile": "agent"}, format="json"
    )
    remove = api_as(cc_admin).delete(f"/api/v1/memberships/{owners.pk}/")

    assert [demote.status_code, care.status_code, remove.status_code] == [403, 403, 403]
    owners.refresh_from_db()
    assert (owners.admin_role, owners.care_profile) == (AdminRole.FULL_ADMIN, CareProfile.NONE)


def test_a_contact_center_admin_cannot_invite_a_full_admin(cc_admin, tenant, api_as):
    response = api_as(cc_admin).post(
        "/api/v1/invitations/",
        {"tenant": tenant.pk, "email": "eve@example.test", "admin_role": "full_admin"},
        format="json",
    )

    assert response.status_code == 403
    assert "Full admin" in response.json()["detail"]
    assert not Invitation.objects.exists()


def test_a_contact_center_admin_still_manages_roles_up_to_their_own(
    cc_admin, supervisor, tenant, api_as
):
    target = _membership(supervisor, tenant)

    response = api_as(cc_admin).patch(
        f"/api/v1/memberships/{target.pk}/", {"admin_role": "cc_admin"}, format="json"
    )
    invite = api_as(cc_admin).post(
        "/api/v1/invitations/",
        {"tenant": tenant.pk, "email": "erin@example.test", "admin_role": "read_only"},
        format="json",
    )

    assert response.status_code == 200
    assert invite.status_code == 201
    target.refresh_from_db()
    assert target.admin_role == AdminRole.CC_ADMIN


def test_the_last_full_admin_cannot_be_demoted_or_removed(owner, tenant, api_as):
    mine = _membership(owner, tenant)

    demote = api_as(owner).patch(
        f"/api/v1/memberships/{mine.pk}/", {"admin_role": "read_only"}, format="json"
    )
    remove = api_as(owner).delete(f"/api/v1/memberships/{mine.pk}/")

    for response in (demote, remove):
        assert response.status_code == 400
        assert "last full admin" in str(response.json())
    mine.refresh_from_db()
    assert mine.admin_role == AdminRole.FULL_ADMIN


def test_a_full_admin_steps_down_once_there_is_another(owner, tenant, api_as):
    second = member(tenant=tenant, email="frank@acme.test", admin_role=AdminRole.FULL_ADMIN)
    mine = _membership(owner, tenant)

    response = api_as(second).patch(
        f"/api/v1/memberships/{mine.pk}/", {"admin_role": "cc_admin"}, format="json"
    )

    assert response.status_code == 200
    mine.refresh_from_db()
    assert mine.admin_role == AdminRole.CC_ADMIN


def test_every_role_change_is_recorded_with_who_what_and_when(owner, supervisor, tenant, api_as):
    target = _membership(supervisor, tenant)

    api_as(owner).patch(
        f"/api/v1/memberships/{target.pk}/", {"admin_role": "read_only"}, format="json"
    )
    api_as(owner).delete(f"/api/v1/memberships/{target.pk}/")

    changed, removed = RoleChange.objects.filter(user_email=supervisor.email).order_by("id")[1:]
    assert (changed.action, changed.changed_by, changed.tenant) == ("changed", owner, tenant)
    assert (changed.admin_role_before, changed.admin_role_after) == ("none", "read_only")
    assert (changed.connect_role_before, changed.connect_role_after) == ("none", "read_only")
    assert (removed.action, removed.admin_role_before, removed.admin_role_after) == (
        "removed",
        "read_only",
        "",
    )
    assert removed.at >= changed.at


def test_an_outsider_cannot_touch_another_tenants_memberships(owner, outsider, tenant, api_as):
    owners = _membership(owner, tenant)

    patch = api_as(outsider).patch(
        f"/api/v1/memberships/{owners.pk}/", {"admin_role": "read_only"}, format="json"
    )
    delete = api_as(outsider).delete(f"/api/v1/memberships/{owners.pk}/")

    assert [patch.status_code, delete.status_code] == [404, 404]
    assert not RoleChange.objects.filter(changed_by=outsider).exists()


def test_a_partner_provisioning_admin_cannot_grant_full_admin_in_a_customer(db, api_as):
    partner = TenantFactory(name="Partner", slug="partner", kind=TenantKind.PARTNER)
    customer = TenantFactory(name="Customer", slug="customer", partner=partner)
    provisioner = member(
        tenant=partner, email="pat@partner.test", admin_role=AdminRole.PROVISIONING_ADMIN
    )
    someone = member(tenant=customer, email="sue@customer.test", admin_role=AdminRole.READ_ONLY)
    target = _membership(someone, customer)

    response = api_as(provisioner).patch(
        f"/api/v1/memberships/{target.pk}/", {"admin_role": "full_admin"}, format="json"
    )

    assert response.status_code == 403
    target.refresh_from_db()
    assert target.admin_role == AdminRole.READ_ONLY


def test_the_console_refuses_a_grant_above_ones_own_role(client, owner, cc_admin, tenant):
    mine = _membership(cc_admin, tenant)
    client.force_login(cc_admin)

    response = client.post(
        f"/admin/tenants/membership/{mine.pk}/change/",
        {"admin_role": "full_admin", "connect_role": "tenant_owner", "care_profile": "none"},
        follow=True,
    )

    assert "above your own" in response.content.decode()
    mine.refresh_from_db()
    assert mine.admin_role == AdminRole.CC_ADMIN


def test_the_console_refuses_an_invitation_above_ones_own_role(client, cc_admin, tenant):
    client.force_login(cc_admin)

    response = client.post(
        "/admin/tenants/invitation/add/",
        {
            "email": "eve@example.test",
            "admin_role": "full_admin",
            "connect_role": "none",
            "care_profile": "none",
        },
        follow=True,
    )

    assert "above your own" in response.content.decode()
    assert not Invitation.objects.exists()


def test_the_role_change_log_is_read_only_in_the_console_and_scoped(
    client, owner, supervisor, outsider, tenant
):
    client.force_login(owner)
    listing = client.get("/admin/tenants/rolechange/")
    entry = RoleChange.objects.filter(tenant=tenant).first()
    add = client.get("/admin/tenants/rolechange/add/")
    client.force_login(outsider)
    outsider_listing = client.get("/admin/tenants/rolechange/")

    assert listing.status_code == 200
    assert supervisor.email.encode() in listing.content
    assert add.status_code == 403
    assert client.get(f"/admin/tenants/rolechange/{entry.pk}/change/").status_code == 302
    assert supervisor.email.encode() not in outsider_listing.content
