"""The permission matrix: grant role x object type -> actions (v=view, a=add, c=change, d=delete).

Permissions are granted with django-guardian on the Tenant object (one group per tenant and
grant role), so they never grow with traffic. docs/permissions.md is this table in prose; the
tests walk every cell.
"""

ACTIONS: dict[str, str] = {"v": "view", "a": "add", "c": "change", "d": "delete"}

# Object types, by the console that owns them.
CONFIG_TYPES: tuple[str, ...] = (
    "tenant",
    "tenant_policy",
    "membership",
    "invitation",
    "multimedia_profile",
    "site",
    "team",
    "agent",
    "idle_code",
    "wrap_up_code",
    "channel_asset",
    "dead_letter",
    "entry_point",
    "queue",
    "skill",
    "skill_profile",
    "business_calendar",
    "global_variable",
    "node_authorization",
)
WORKSPACE_TYPES: tuple[str, ...] = ("flow",)
# The care side ("Engage"): transcripts, customers, channel templates. Never for partner admins.
ENGAGE_TYPES: tuple[str, ...] = (
    "customer",
    "conversation",
    "task",
    "channel_template",
    "canned_response",
)
OBJECT_TYPES: tuple[str, ...] = CONFIG_TYPES + WORKSPACE_TYPES + ENGAGE_TYPES


def _all(types: tuple[str, ...], actions: str) -> dict[str, str]:
    return {t: actions for t in types}


MATRIX: dict[str, dict[str, str]] = {
    # Customer tenant admins (platform admin role).
    "admin:full_admin": {
        **_all(CONFIG_TYPES, "vacd"),
        "tenant": "vc",
        **_all(WORKSPACE_TYPES, "v"),
        **_all(ENGAGE_TYPES, "vacd"),
    },
    "admin:cc_admin": {
        **_all(CONFIG_TYPES, "vacd"),
        "tenant": "v",
        "membership": "vac",
        **_all(WORKSPACE_TYPES, "v"),
        **_all(ENGAGE_TYPES, "vacd"),
    },
    "admin:read_only": {
        **_all(CONFIG_TYPES, "v"),
        **_all(WORKSPACE_TYPES, "v"),
        **_all(ENGAGE_TYPES, "v"),
    },
    # Partner admins, in the partner tenant and in each of its customer tenants: no Engage.
    "partner:full_admin": {
        **_all(CONFIG_TYPES, "vacd"),
        "tenant": "vc",
        **_all(WORKSPACE_TYPES, "v"),
    },
    "partner:provisioning_admin": {
        **_all(CONFIG_TYPES, "vac"),
        "tenant": "v",
        **_all(WORKSPACE_TYPES, "v"),
    },
    "partner:read_only": {**_all(CONFIG_TYPES, "v"), **_all(WORKSPACE_TYPES, "v")},
    # Flow workspace ("Connect") roles: only they may write flows.
    "connect:tenant_owner": {
        "flow": "vacd",
        "node_authorization": "vacd",
        "global_variable": "vacd",
    },
    "connect:full_access": {"flow": "vacd", "node_authorization": "v", "global_variable": "vac"},
    "connect:limited_access": {"flow": "vac", "global_variable": "v"},
    "connect:restricted_access": {"flow": "v"},
    "connect:read_only": {"flow": "v"},
    # Contact-center profiles.
    "care:supervisor": {
        "site": "v",
        "team": "v",
        "agent": "vc",
        "idle_code": "v",
        "wrap_up_code": "v",
        "entry_point": "v",
        "queue": "v",
        "skill": "v",
        "skill_profile": "v",
        "global_variable": "v",
        "customer": "v",
        "conversation": "vc",
        "task": "vc",
        "channel_template": "v",
        "canned_response": "vacd",
    },
    # Agents reach their own conversations through ownership, not through a tenant-wide grant.
    "care:agent": {
        "team": "v",
        "idle_code": "v",
        "wrap_up_code": "v",
        "queue": "v",
        "skill": "v",
        "global_variable": "v",
    },
}

GRANT_ROLES: tuple[str, ...] = tuple(MATRIX)


def codename(action: str, object_type: str) -> str:
    # "can_" keeps these apart from Django's own per-model codenames (view_site, ...).
    return f"can_{action}_{object_type}"


def perm_name(action: str, object_type: str) -> str:
    """The full permission name to pass to user.has_perm(..., tenant)."""
    return f"tenants.{codename(action, object_type)}"


def allowed(grant_role: str, action: str, object_type: str) -> bool:
    letters = MATRIX.get(grant_role, {}).get(object_type, "")
    return any(ACTIONS[letter] == action for letter in letters)


def codenames_for(grant_role: str) -> set[str]:
    return {
        codename(ACTIONS[letter], object_type)
        for object_type, letters in MATRIX[grant_role].items()
        for letter in letters
    }


def all_codenames() -> set[str]:
    return {codename(action, t) for t in OBJECT_TYPES for action in ACTIONS.values()}


ROLE_DESCRIPTIONS: dict[str, str] = {
    "admin:full_admin": "Customer full admin (platform admin role)",
    "admin:cc_admin": "Customer contact-center admin",
    "admin:read_only": "Customer read-only admin",
    "partner:full_admin": "Partner external full admin (in the partner and each customer tenant)",
    "partner:provisioning_admin": "Partner external provisioning admin",
    "partner:read_only": "Partner external read-only admin",
    "connect:tenant_owner": "Workspace tenant owner",
    "connect:full_access": "Workspace full access",
    "connect:limited_access": "Workspace limited access",
    "connect:restricted_access": "Workspace restricted access",
    "connect:read_only": "Workspace read-only",
    "care:supervisor": "Supervisor (care profile)",
    "care:agent": "Agent (care profile)",
}


def render_markdown() -> str:
    """docs/permissions.md, generated from MATRIX (`python manage.py permissions_doc`)."""
    lines = [
        "# Permissions",
        "",
        "Generated from `tenants/permissions.py` by `python manage.py permissions_doc`; a test fails",
        "when the two differ.",
        "",
        "Every membership holds up to three grant roles in its tenant: its admin role (`admin:` in a",
        "customer tenant, `partner:` in a partner tenant, where it also applies to every customer",
        "tenant of the partner), its flow-workspace role (`connect:`) and its contact-center profile",
        "(`care:`). A user may do what any of their grant roles allows. Grants are django-guardian",
        "object permissions on the tenant, held by one group per tenant and grant role, so they never",
        "grow with traffic. Someone from another tenant gets nothing: the API answers 404 and the",
        "admin console does not show the object.",
        "",
        "Letters: **v** view, **a** add, **c** change, **d** delete; **-** nothing.",
        "",
        "Partner admins have no access to the care console and channel templates (`customer`,",
        "`conversation`, `task`, `channel_template`). Agents reach the conversations they own through",
        "ownership, not through a tenant-wide grant.",
        "",
        "Raw webhook bodies (the body of a dead letter) and flow runs (their steps hold what",
        "customers wrote) are conversation data: reading them needs `conversation` view, like",
        "transcripts. Dry-running a flow definition of one's own, or letting a dry run make real",
        "HTTP requests, needs `flow` change.",
        "",
        "Nobody grants an admin role above their own (through the API, the console or an",
        "invitation), nor changes or removes a member whose role is above theirs; the last full",
        "admin of a tenant cannot be demoted or removed. Every role change is recorded (who, whose,",
        "from what to what, when) and listed read-only in the console.",
        "",
        "## Team and queue scoping in the care console",
        "",
        "The `care:` grants above say what a supervisor may do; their supervisor scope (admin",
        "console, *Supervisor scopes*, managed with the `membership` permissions) says over which",
        "teams and queues. A supervisor sees the agents of their granted teams, the granted queues,",
        "and the conversations owned by an agent of a granted team or routed through a granted",
        "queue, in Live, transcripts, exports, reports and the care socket; without a scope they",
        "see nothing. Customer tenant admins (`admin:` roles) see the whole tenant. Taking over and",
        "moving conversations needs `change` on `conversation`. Partner admins and agents get 403",
        "from the care console; another tenant's ids answer 404.",
        "",
    ]
    for title, types in (
        ("Configuration (admin console)", CONFIG_TYPES),
        ("Flow workspace", WORKSPACE_TYPES),
        ("Care console and templates", ENGAGE_TYPES),
    ):
        lines += [f"## {title}", ""]
        lines.append("| grant role | " + " | ".join(f"`{t}`" for t in types) + " |")
        lines.append("|---|" + "---|" * len(types))
        for role in GRANT_ROLES:
            cells = [MATRIX[role].get(t, "") or "-" for t in types]
            lines.append(f"| `{role}` | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Grant roles", ""]
    lines += [f"- `{role}`: {ROLE_DESCRIPTIONS[role]}" for role in GRANT_ROLES]
    lines.append("")
    return "\n".join(lines)
