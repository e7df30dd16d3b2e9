"""Every cell of the permission matrix, as django-guardian answers it, and the outsider."""

from pathlib import Path

import pytest
from django.conf import settings
from guardian.models import GroupObjectPermission

from tenants import permissions, services
from tenants.access import user_can
from tenants.roles import AdminRole, CareProfile
from tests.factories import TenantFactory, UserFactory, member

CELLS = [(t, a) for t in permissions.OBJECT_TYPES for a in permissions.ACTIONS.values()]


@pytest.mark.parametrize("grant_role", permissions.GRANT_ROLES)
def test_each_grant_role_gets_exactly_its_row_of_the_matrix(tenant, other_tenant, grant_role):
    user = UserFactory()
    user.groups.add(services.role_group_get(tenant=tenant, grant_role=grant_role))

    wrong = [
        (object_type, action)
        for object_type, action in CELLS
        if user_can(user=user, tenant=tenant, object_type=object_type, action=action)
        != permissions.allowed(grant_role, action, object_type)
    ]
    assert wrong == []
    # The outsider cell: the same grant role says nothing about another tenant.
    assert not any(
        user_can(user=user, tenant=other_tenant, object_type=object_type, action=action)
        for object_type, action in CELLS
    )


def test_the_matrix_has_a_row_for_every_grant_role_a_membership_can_hold():
    for role in AdminRole:
        if role not in (AdminRole.NONE, AdminRole.PROVISIONING_ADMIN):
            assert f"admin:{role}" in permissions.MATRIX
        if role not in (AdminRole.NONE, AdminRole.CC_ADMIN):
            assert f"partner:{role}" in permissions.MATRIX
    for profile in (CareProfile.AGENT, CareProfile.SUPERVISOR):
        assert f"care:{profile}" in permissions.MATRIX


def test_read_only_rows_never_write_anything():
    for role in (
        "admin:read_only",
        "partner:read_only",
        "connect:read_only",
        "connect:restricted_access",
    ):
        assert set("".join(permissions.MATRIX[role].values())) <= {"v"}


def test_only_workspace_roles_may_write_flows():
    writers = {
        role for role in permissions.GRANT_ROLES if permissions.allowed(role, "change", "flow")
    }
    assert writers == {"connect:tenant_owner", "connect:full_access", "connect:limited_access"}


def test_agents_get_no_tenant_wide_view_of_conversations_or_customers():
    for object_type in ("conversation", "customer", "agent", "channel_asset"):
        assert not permissions.allowed("care:agent", "view", object_type)


def test_grants_do_not_grow_with_the_number_of_people(tenant):
    member(tenant=tenant, admin_role=AdminRole.FULL_ADMIN)
    grants_for_one = GroupObjectPermission.objects.count()

    for _ in range(5):
        member(tenant=tenant, admin_role=AdminRole.FULL_ADMIN)

    assert GroupObjectPermission.objects.count() == grants_for_one


def test_an_agent_of_one_tenant_is_an_outsider_everywhere_else(agent, other_tenant):
    user = agent.user
    assert user_can(user=user, tenant=agent.tenant, object_type="queue")
    assert not any(
        user_can(user=user, tenant=other_tenant, object_type=object_type, action=action)
        for object_type, action in CELLS
    )


def test_permissions_doc_is_the_matrix():
    doc = (Path(settings.BASE_DIR) / "docs" / "permissions.md").read_text()
    assert doc == permissions.render_markdown(), "run: python manage.py permissions_doc"


def test_a_matrix_change_reaches_existing_groups_on_the_next_migrate(tenant, monkeypatch):
    user = UserFactory()
    user.groups.add(services.role_group_get(tenant=tenant, grant_role="care:agent"))
    assert not user_can(user=user, tenant=tenant, object_type="site")

    monkeypatch.setitem(
        permissions.MATRIX, "care:agent", {**permissions.MATRIX["care:agent"], "site": "v"}
    )
    services.permissions_ensure()

    user = type(user).objects.get(pk=user.pk)
    assert user_can(user=user, tenant=tenant, object_type="site")


def test_a_customer_with_no_partner_is_out_of_reach_of_every_partner(db):
    from tenants.roles import TenantKind

    partner = TenantFactory(name="P", kind=TenantKind.PARTNER)
    lonely = TenantFactory(name="Lonely")
    user = member(tenant=partner, admin_role=AdminRole.FULL_ADMIN)

    assert not user_can(user=user, tenant=lonely, object_type="site")
