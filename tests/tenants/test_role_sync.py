"""The role tables 1-3: one test per row, named after the row, through the services."""

import pytest
from django.core.exceptions import ValidationError

from tenants import services
from tenants.access import user_can
from tenants.models import Membership
from tenants.roles import AdminRole, CareProfile, ConnectRole, TenantKind
from tests.factories import TenantFactory, UserFactory, member


@pytest.fixture
def partner(db):
    return TenantFactory(name="Partner Ltd", kind=TenantKind.PARTNER)


@pytest.fixture
def customer(partner):
    return TenantFactory(name="Customer GmbH", partner=partner)


def _roles(user, tenant) -> tuple[str, str]:
    membership = Membership.objects.get(user=user, tenant=tenant)
    return membership.admin_role, membership.connect_role


# Table 1: partner external administrators in the flow workspace.


def test_table1_partner_external_full_admin_gets_connect_full_access(partner):
    user = member(tenant=partner, admin_role=AdminRole.FULL_ADMIN)
    assert _roles(user, partner) == (AdminRole.FULL_ADMIN, ConnectRole.FULL_ACCESS)


def test_table1_partner_external_provisioning_admin_gets_connect_limited_access(partner):
    user = member(tenant=partner, admin_role=AdminRole.PROVISIONING_ADMIN)
    assert _roles(user, partner) == (AdminRole.PROVISIONING_ADMIN, ConnectRole.LIMITED_ACCESS)


def test_table1_partner_external_read_only_gets_connect_read_only(partner):
    user = member(tenant=partner, admin_role=AdminRole.READ_ONLY)
    assert _roles(user, partner) == (AdminRole.READ_ONLY, ConnectRole.READ_ONLY)


# Table 2: customer admin roles synced into the flow workspace.


def test_table2_customer_full_admin_gets_connect_tenant_owner(tenant):
    user = member(tenant=tenant, admin_role=AdminRole.FULL_ADMIN)
    assert _roles(user, tenant) == (AdminRole.FULL_ADMIN, ConnectRole.TENANT_OWNER)


def test_table2_customer_contact_center_admin_gets_connect_tenant_owner(tenant):
    user = member(tenant=tenant, admin_role=AdminRole.CC_ADMIN)
    assert _roles(user, tenant) == (AdminRole.CC_ADMIN, ConnectRole.TENANT_OWNER)


def test_table2_customer_read_only_admin_gets_connect_read_only(tenant):
    user = member(tenant=tenant, admin_role=AdminRole.READ_ONLY)
    assert _roles(user, tenant) == (AdminRole.READ_ONLY, ConnectRole.READ_ONLY)


# Table 3: flow-workspace roles synced back into the admin console.


def test_table3_connect_read_only_gives_customer_read_only_admin(tenant):
    user = member(tenant=tenant, connect_role=ConnectRole.READ_ONLY)
    assert _roles(user, tenant) == (AdminRole.READ_ONLY, ConnectRole.READ_ONLY)


def test_table3_connect_limited_gives_customer_read_only_admin(tenant):
    user = member(tenant=tenant, connect_role=ConnectRole.LIMITED_ACCESS)
    assert _roles(user, tenant) == (AdminRole.READ_ONLY, ConnectRole.LIMITED_ACCESS)


def test_table3_connect_full_access_gives_customer_full_admin(tenant):
    user = member(tenant=tenant, connect_role=ConnectRole.FULL_ACCESS)
    assert _roles(user, tenant) == (AdminRole.FULL_ADMIN, ConnectRole.FULL_ACCESS)


def test_table3_connect_tenant_owner_gives_customer_full_admin(tenant):
    user = member(tenant=tenant, connect_role=ConnectRole.TENANT_OWNER)
    assert _roles(user, tenant) == (AdminRole.FULL_ADMIN, ConnectRole.TENANT_OWNER)


def test_table3_connect_restricted_access_gives_customer_read_only_admin(tenant):
    user = member(tenant=tenant, connect_role=ConnectRole.RESTRICTED_ACCESS)
    assert _roles(user, tenant) == (AdminRole.READ_ONLY, ConnectRole.RESTRICTED_ACCESS)


# Both directions on an existing membership, and the permissions that follow.


def test_changing_the_admin_role_resyncs_the_workspace_role_and_permissions(tenant):
    user = member(tenant=tenant, admin_role=AdminRole.READ_ONLY)
    membership = Membership.objects.get(user=user, tenant=tenant)
    assert not user_can(user=user, tenant=tenant, object_type="site", action="add")

    services.membership_set_admin_role(membership=membership, admin_role=AdminRole.FULL_ADMIN)

    user = type(user).objects.get(pk=user.pk)  # fresh permission cache
    assert _roles(user, tenant) == (AdminRole.FULL_ADMIN, ConnectRole.TENANT_OWNER)
    assert user_can(user=user, tenant=tenant, object_type="site", action="add")
    assert user_can(user=user, tenant=tenant, object_type="flow", action="change")


def test_changing_the_workspace_role_resyncs_the_admin_role_and_drops_old_grants(tenant, owner):
    # owner stays full admin: the last full admin could not be demoted.
    user = member(tenant=tenant, admin_role=AdminRole.FULL_ADMIN)
    membership = Membership.objects.get(user=user, tenant=tenant)

    services.membership_set_connect_role(
        membership=membership, connect_role=ConnectRole.RESTRICTED_ACCESS
    )

    user = type(user).objects.get(pk=user.pk)
    assert _roles(user, tenant) == (AdminRole.READ_ONLY, ConnectRole.RESTRICTED_ACCESS)
    assert not user_can(user=user, tenant=tenant, object_type="site", action="add")
    assert not user_can(user=user, tenant=tenant, object_type="flow", action="change")
    assert user_can(user=user, tenant=tenant, object_type="site", action="view")


def test_a_workspace_role_outside_table1_is_refused_for_a_partner_admin(partner):
    user = UserFactory()
    with pytest.raises(ValidationError, match="tenant_owner"):
        services.membership_create(user=user, tenant=partner, connect_role=ConnectRole.TENANT_OWNER)
    assert not Membership.objects.filter(user=user).exists()


# Partner admins: the partner table in their customers, never the care console or templates.


def test_partner_admins_manage_their_customers_with_the_partner_table(partner, customer):
    user = member(tenant=partner, admin_role=AdminRole.PROVISIONING_ADMIN)

    assert user_can(user=user, tenant=customer, object_type="site", action="add")
    assert not user_can(user=user, tenant=customer, object_type="site", action="delete")


def test_partner_admins_get_new_customers_of_their_partner_at_once(partner):
    user = member(tenant=partner, admin_role=AdminRole.FULL_ADMIN)
    later = TenantFactory(name="Later Customer", partner=partner)

    assert user_can(user=user, tenant=later, object_type="team", action="change")


@pytest.mark.parametrize(
    "role", [AdminRole.FULL_ADMIN, AdminRole.PROVISIONING_ADMIN, AdminRole.READ_ONLY]
)
@pytest.mark.parametrize("engage_type", ["conversation", "customer", "task", "channel_template"])
def test_partner_admins_never_get_the_care_console_or_channel_templates(
    partner, customer, role, engage_type
):
    user = member(tenant=partner, admin_role=role)

    for action in ("view", "add", "change", "delete"):
        assert not user_can(user=user, tenant=customer, object_type=engage_type, action=action)
        assert not user_can(user=user, tenant=partner, object_type=engage_type, action=action)


def test_partner_admins_cannot_be_given_a_care_profile(partner):
    user = UserFactory()
    with pytest.raises(ValidationError, match="care console"):
        services.membership_create(
            user=user,
            tenant=partner,
            admin_role=AdminRole.FULL_ADMIN,
            care_profile=CareProfile.SUPERVISOR,
        )


def test_removing_a_membership_removes_every_grant(tenant, owner):
    user = member(tenant=tenant, admin_role=AdminRole.FULL_ADMIN)
    services.membership_delete(membership=Membership.objects.get(user=user, tenant=tenant))

    user = type(user).objects.get(pk=user.pk)
    assert not user_can(user=user, tenant=tenant, object_type="tenant", action="view")
    assert not user.groups.exists()
