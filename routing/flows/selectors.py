from django.db.models import Max, QuerySet

from channels_app.models import Conversation
from routing.flows.models import (
    Flow,
    FlowRun,
    FlowVersion,
    GlobalVariable,
    NodeAuthorization,
)
from tenants.models import Tenant


def flow_version_current(*, flow: Flow) -> FlowVersion | None:
    """The newest published version: what new conversations run."""
    return flow.versions.filter(status=FlowVersion.Status.PUBLISHED).order_by("-number").first()


def flow_version_latest(*, flow: Flow) -> FlowVersion | None:
    return flow.versions.order_by("-number").first()


def flow_version_for_conversation(*, flow: Flow, conversation: Conversation) -> FlowVersion | None:
    """The version this conversation started with for this flow, else the current one."""
    first_run = (
        FlowRun.objects.filter(flow=flow, conversation=conversation)
        .order_by("id")
        .select_related("flow_version")
        .first()
    )
    if first_run is not None:
        return first_run.flow_version
    return flow_version_current(flow=flow)


def flow_for_event(*, tenant: Tenant, kind: str) -> Flow | None:
    """The tenant's event flow of kind: the one published most recently."""
    return (
        Flow.objects.filter(tenant=tenant, kind=kind, versions__status=FlowVersion.Status.PUBLISHED)
        .annotate(last_published=Max("versions__published_at"))
        .order_by("-last_published", "name")
        .first()
    )


def flow_run_waiting(*, conversation: Conversation) -> FlowRun | None:
    return (
        FlowRun.objects.filter(conversation=conversation, status=FlowRun.Status.WAITING)
        .order_by("id")
        .first()
    )


def flow_run_list(*, tenant: Tenant, conversation: Conversation | None = None) -> QuerySet[FlowRun]:
    runs = FlowRun.objects.filter(tenant=tenant).select_related("flow", "flow_version")
    if conversation is not None:
        runs = runs.filter(conversation=conversation)
    return runs


def node_authorizations_granted(*, tenant: Tenant) -> set[str]:
    return set(
        NodeAuthorization.objects.filter(
            tenant=tenant, state=NodeAuthorization.State.AUTHORIZED
        ).values_list("node", flat=True)
    )


def _flags(source) -> dict:
    get = (
        source.get
        if isinstance(source, dict)
        else lambda key, default=None: getattr(source, key, default)
    )
    return {
        "type": get("type"),
        "label": get("label", "") or "",
        "default": get("default"),
        "agent_visible": bool(get("agent_visible", False)),
        "agent_editable": bool(get("agent_editable", False)),
        "reportable": bool(get("reportable", False)),
    }


def variable_declarations(*, tenant: Tenant, definitions: list[dict] = ()) -> dict[str, dict]:
    """name -> {type, default, flags, scope}: the tenant's global variables, then the variables the
    given flow definitions declare (a flow variable of the same name wins in its flow)."""
    declared: dict[str, dict] = {}
    for variable in GlobalVariable.objects.filter(tenant=tenant):
        declared[variable.name] = {**_flags(variable), "scope": "global"}
    for definition in definitions:
        for variable in definition.get("variables") or []:
            declared[variable["name"]] = {**_flags(variable), "scope": "flow"}
    return declared


def conversation_definitions(*, conversation: Conversation) -> list[dict]:
    """The definitions of the flow versions this conversation has run, oldest first."""
    version_ids = list(
        FlowRun.objects.filter(conversation=conversation)
        .order_by("id")
        .values_list("flow_version_id", flat=True)
    )
    by_id = {v.pk: v.definition for v in FlowVersion.objects.filter(pk__in=set(version_ids))}
    seen: list[int] = []
    for version_id in version_ids:
        if version_id not in seen:
            seen.append(version_id)
    return [by_id[version_id] for version_id in seen]


def _prechat_declarations(conversation: Conversation) -> dict[str, dict]:
    """A live-chat conversation's pre-chat answers (and an offline message's email): visible to
    the agent, as text, unless a global or flow variable of the same name says otherwise."""
    if conversation.kind != "chat":
        return {}
    from channels_app.models import ChatWidget

    widget = (
        ChatWidget.objects.filter(asset_id=conversation.asset_id).only("prechat_fields").first()
    )
    labels = {
        f["key"]: f.get("label", "")
        for f in (widget.prechat_fields if widget else [])
        if isinstance(f, dict) and f.get("key")
    }
    if (conversation.variables or {}).get("visitor_email"):
        labels["visitor_email"] = "Visitor's email (replies go there)"
    spec = {
        "type": "string",
        "default": None,
        "agent_visible": True,
        "agent_editable": False,
        "reportable": False,
        "scope": "prechat",
    }
    return {name: {**spec, "label": label} for name, label in labels.items()}


def conversation_variable_declarations(*, conversation: Conversation) -> dict[str, dict]:
    declared = variable_declarations(
        tenant=conversation.tenant, definitions=conversation_definitions(conversation=conversation)
    )
    return {**_prechat_declarations(conversation), **declared}


def conversation_variables_for_agent(*, conversation: Conversation) -> list[dict]:
    """The variables an agent sees in the desktop: name, type, value, editable."""
    declared = conversation_variable_declarations(conversation=conversation)
    values = conversation.variables or {}
    return [
        {
            "name": name,
            "label": spec["label"] or name,
            "type": spec["type"],
            "value": values.get(name, spec["default"]),
            "editable": spec["agent_editable"],
            **({"label": spec["label"]} if spec.get("label") else {}),
        }
        for name, spec in sorted(declared.items())
        if spec["agent_visible"]
    ]


def conversation_variables_reportable(*, conversation: Conversation) -> dict:
    declared = conversation_variable_declarations(conversation=conversation)
    values = conversation.variables or {}
    return {
        name: values.get(name, spec["default"])
        for name, spec in declared.items()
        if spec["reportable"]
    }


def flows_using_nodes(*, tenant: Tenant, families: set[str]) -> list[tuple[Flow, list[str]]]:
    """Flows whose current published version has nodes needing one of these authorizations,
    with those node ids: what stops working when the authorizations are revoked."""
    from routing.flows.definitions import required_authorizations

    found = []
    for flow in Flow.objects.filter(tenant=tenant).order_by("name"):
        version = flow_version_current(flow=flow)
        if version is None:
            continue
        needed = required_authorizations(version.definition)
        nodes = sorted(node for family in families for node in needed.get(family, []))
        if nodes:
            found.append((flow, nodes))
    return found
