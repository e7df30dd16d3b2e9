"""The role tables 1-3 of the administrator guide, as data, and the roles they name.

Two role systems live on every membership: the platform admin role (the admin console) and the
flow-workspace ("Connect") role. Setting either one sets the other through these tables.
"""

from django.db import models


class AdminRole(models.TextChoices):
    FULL_ADMIN = "full_admin", "Full admin"
    CC_ADMIN = "cc_admin", "Contact-center admin"  # customer tenants only
    PROVISIONING_ADMIN = "provisioning_admin", "Provisioning admin"  # partner tenants only
    READ_ONLY = "read_only", "Read-only admin"
    NONE = "none", "No admin role"


class ConnectRole(models.TextChoices):
    TENANT_OWNER = "tenant_owner", "Tenant owner"
    FULL_ACCESS = "full_access", "Full access"
    LIMITED_ACCESS = "limited_access", "Limited access"
    RESTRICTED_ACCESS = "restricted_access", "Restricted access"
    READ_ONLY = "read_only", "Read-only"
    NONE = "none", "No workspace access"


class CareProfile(models.TextChoices):
    AGENT = "agent", "Agent"
    SUPERVISOR = "supervisor", "Supervisor"
    NONE = "none", "None"


class TenantKind(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    PARTNER = "partner", "Partner"


# Table 1: partner external administrators -> workspace access.
PARTNER_ADMIN_TO_CONNECT: dict[str, str] = {
    AdminRole.FULL_ADMIN: ConnectRole.FULL_ACCESS,
    AdminRole.PROVISIONING_ADMIN: ConnectRole.LIMITED_ACCESS,
    AdminRole.READ_ONLY: ConnectRole.READ_ONLY,
    AdminRole.NONE: ConnectRole.NONE,
}

# Table 2: customer admin roles -> workspace role.
CUSTOMER_ADMIN_TO_CONNECT: dict[str, str] = {
    AdminRole.FULL_ADMIN: ConnectRole.TENANT_OWNER,
    AdminRole.CC_ADMIN: ConnectRole.TENANT_OWNER,
    AdminRole.READ_ONLY: ConnectRole.READ_ONLY,
    AdminRole.NONE: ConnectRole.NONE,
}

# Table 3: workspace roles -> customer admin role.
CONNECT_TO_CUSTOMER_ADMIN: dict[str, str] = {
    ConnectRole.READ_ONLY: AdminRole.READ_ONLY,
    ConnectRole.LIMITED_ACCESS: AdminRole.READ_ONLY,
    ConnectRole.FULL_ACCESS: AdminRole.FULL_ADMIN,
    ConnectRole.TENANT_OWNER: AdminRole.FULL_ADMIN,
    ConnectRole.RESTRICTED_ACCESS: AdminRole.READ_ONLY,
    ConnectRole.NONE: AdminRole.NONE,
}

# Table 1 read backwards: a partner's workspace role decides its external admin role.
CONNECT_TO_PARTNER_ADMIN: dict[str, str] = {
    connect: admin for admin, connect in PARTNER_ADMIN_TO_CONNECT.items()
}


def connect_role_for(*, tenant_kind: str, admin_role: str) -> str:
    table = (
        PARTNER_ADMIN_TO_CONNECT if tenant_kind == TenantKind.PARTNER else CUSTOMER_ADMIN_TO_CONNECT
    )
    if admin_role not in table:
        raise ValueError(
            f"admin role '{admin_role}' does not exist on a {tenant_kind} tenant; "
            f"choose one of: {', '.join(table)}"
        )
    return table[admin_role]


def admin_role_for(*, tenant_kind: str, connect_role: str) -> str:
    table = (
        CONNECT_TO_PARTNER_ADMIN if tenant_kind == TenantKind.PARTNER else CONNECT_TO_CUSTOMER_ADMIN
    )
    if connect_role not in table:
        raise ValueError(
            f"workspace role '{connect_role}' does not exist on a {tenant_kind} tenant; "
            f"choose one of: {', '.join(table)}"
        )
    return table[connect_role]
