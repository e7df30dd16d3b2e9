"""Every write of flows and variables: versions, publishing, import and migration, node
authorization, runs (start, resume, time out, event flows), variable edits, the dry run."""

import copy
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.dateparse import parse_date

from channels_app.models import Conversation, Message, channel_display_name
from routing.flows import definitions, selectors
from routing.flows.definitions import Problem
from routing.flows.effects import DryEffects, Effects, LiveEffects
from routing.flows.engine import RunState, StepRecord, advance
from routing.flows.models import (
    EVENT_KINDS,
    AuthorizableNode,
    Flow,
    FlowKind,
    FlowRun,
    FlowRunStep,
    FlowVersion,
    GlobalVariable,
    NodeAuthorization,
    VariableType,
)
from routing.flows.templates import template_load, template_versions
from routing.flows.variables import RESERVED_NAMES, coerce
from tenants.access import user_can
from tenants.models import Agent, Tenant, User
from tenants.realtime import agent_group, send_event_on_commit

logger = logging.getLogger(__name__)


class FlowValidationError(ValidationError):
    """A flow document with problems; each names its JSON path."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__([str(problem) for problem in problems])


def _require(user: User | None, tenant: Tenant, action: str) -> None:
    # None is the system itself (management commands without --user, the demo seed).
    if user is not None and not user_can(
        user=user, tenant=tenant, object_type="flow", action=action
    ):
        raise PermissionDenied(
            f"You may not {action} flows in {tenant.name}: that needs a workspace (Connect) role "
            "with flow access."
        )


# --- validation -------------------------------------------------------------------------------


def flow_validate(
    *, tenant: Tenant, definition: Any, check_authorization: bool = True
) -> list[Problem]:
    """Schema and graph problems, then (for a well-formed flow) the nodes not authorized."""
    found = _nul_problems(definition)
    if found:
        return found
    found = definitions.problems(definition)
    if found or not check_authorization:
        return found
    granted = selectors.node_authorizations_granted(tenant=tenant)
    for family, node_ids in definitions.required_authorizations(definition).items():
        if family not in granted:
            for node_id in node_ids:
                found.append(
                    definitions.authorization_problem(
                        node_id=node_id,
                        node_type=definition["nodes"][node_id]["type"],
                        family=family,
                    )
                )
    return found


def _nul_problems(value: Any, path: str = "$") -> list[Problem]:
    """PostgreSQL cannot store NUL in text or jsonb: a document holding one is refused where it is."""
    if isinstance(value, str):
        return [Problem(path, "contains a NUL character (\\u0000)")] if "\x00" in value else []
    found: list[Problem] = []
    if isinstance(value, dict):
        for key, child in value.items():
            if isinstance(key, str) and "\x00" in key:
                found.append(Problem(path, "has a key containing a NUL character (\\u0000)"))
            else:
                found += _nul_problems(child, f"{path}.{key}")
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _nul_problems(child, f"{path}[{index}]")
    return found


def _parse(document: Any) -> Any:
    if isinstance(document, bytes):
        document = document.decode("utf-8", "replace")
    if isinstance(document, str):
        try:
            return json.loads(document)
        except json.JSONDecodeError as exc:
            raise FlowValidationError(
                [
                    Problem(
                        "$",
                        f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
                    )
                ]
            ) from None
    return document


# --- flows and versions -----------------------------------------------------------------------


@transaction.atomic
def flow_version_create(
    *, flow: Flow, definition: Any, user: User | None = None, note: str = ""
) -> FlowVersion:
    """A new draft version of flow (validated; a draft may still await node authorization)."""
    definition = _parse(definition)
    problems = flow_validate(tenant=flow.tenant, definition=definition, check_authorization=False)
    if not problems and definition["kind"] != flow.kind:
        problems = [
            Problem("$.kind", f"is {definition['kind']!r} but flow {flow.name!r} is {flow.kind!r}")
        ]
    if problems:
        raise FlowValidationError(problems)
    Flow.objects.select_for_update().filter(pk=flow.pk).first()
    last = flow.versions.order_by("-number").values_list("number", flat=True).first() or 0
    return FlowVersion.objects.create(
        tenant=flow.tenant,
        flow=flow,
        number=last + 1,
        definition=definition,
        created_by=user,
        note=note[:200],
    )


def flow_version_update(
    *, version: FlowVersion, definition: Any, user: User | None = None
) -> FlowVersion:
    """Replaces a draft's document; one with problems is refused whole, each at its JSON path."""
    _require(user, version.tenant, "change")
    if version.status != FlowVersion.Status.DRAFT:
        raise ValidationError(
            f"Version {version.number} of {version.flow.name!r} is published and cannot change; "
            "create a new version instead."
        )
    definition = _parse(definition)
    problems = flow_validate(
        tenant=version.tenant, definition=definition, check_authorization=False
    )
    if not problems and definition["kind"] != version.flow.kind:
        problems = [
            Problem(
                "$.kind",
                f"is {definition['kind']!r} but flow {version.flow.name!r} is {version.flow.kind!r}",
            )
        ]
    if problems:
        raise FlowValidationError(problems)
    updated = FlowVersion.objects.filter(pk=version.pk, status=FlowVersion.Status.DRAFT).update(
        definition=definition
    )
    if not updated:
        raise ValidationError("This version was published meanwhile and cannot change.")
    version.definition = definition
    return version


def flow_version_publish(*, version: FlowVersion, user: User | None = None) -> FlowVersion:
    """Publishes a draft: full validation, node authorization included. Then it never changes."""
    _require(user, version.tenant, "change")
    if version.status == FlowVersion.Status.PUBLISHED:
        return version
    problems = flow_validate(tenant=version.tenant, definition=version.definition)
    if problems:
        raise FlowValidationError(problems)
    now = timezone.now()
    FlowVersion.objects.filter(pk=version.pk, status=FlowVersion.Status.DRAFT).update(
        status=FlowVersion.Status.PUBLISHED, published_at=now, published_by=user
    )
    version.refresh_from_db()
    return version


@transaction.atomic
def flow_import(
    *,
    tenant: Tenant,
    document: Any,
    user: User | None = None,
    name: str | None = None,
    publish: bool = True,
    template: tuple[str, int] | None = None,
) -> FlowVersion:
    """Imports a flow file as a new flow, or as a new version of the flow with its name.

    The file is validated in full, node authorization included; a broken one is rejected with the
    JSON path of every problem and nothing is stored.
    """
    _require(user, tenant, "add")
    definition = _parse(document)
    problems = flow_validate(tenant=tenant, definition=definition)
    if problems:
        raise FlowValidationError(problems)
    name = (name or definition.get("name") or "").strip()
    if not name:
        raise FlowValidationError(
            [Problem("$.name", "is required (or give the flow a name when importing)")]
        )
    definition = {**definition, "name": name}
    flow = Flow.objects.select_for_update().filter(tenant=tenant, name=name).first()
    if flow is None:
        flow = Flow.objects.create(
            tenant=tenant,
            name=name,
            kind=definition["kind"],
            description=definition.get("description", ""),
        )
    else:
        _require(user, tenant, "change")
    if template is None and definition.get("template"):
        template = (definition["template"]["name"], definition["template"]["version"])
    if template is not None:
        flow.template_name, flow.template_version = template
        flow.save(update_fields=["template_name", "template_version"])
    version = flow_version_create(flow=flow, definition=definition, user=user, note="imported")
    if publish:
        version = flow_version_publish(version=version, user=user)
    return version


def flow_import_template(
    *,
    tenant: Tenant,
    template_name: str,
    user: User | None = None,
    name: str | None = None,
    publish: bool = True,
) -> Flow:
    """Imports a shipped template (its newest version) as a published flow of tenant."""
    document = template_load(template_name)
    if document is None:
        raise ValidationError(f"There is no flow template named {template_name!r}.")
    version = flow_import(
        tenant=tenant,
        document=document,
        user=user,
        name=name,
        publish=publish,
        template=(template_name, document["template"]["version"]),
    )
    return version.flow


def flow_template_ensure(*, tenant: Tenant, template_name: str, user: User | None = None) -> Flow:
    """The tenant's flow imported from template_name, importing it first if there is none
    (idempotent, for seeding)."""
    existing = (
        Flow.objects.filter(tenant=tenant, template_name=template_name)
        .filter(versions__status=FlowVersion.Status.PUBLISHED)
        .order_by("id")
        .first()
    )
    if existing is not None:
        return existing
    return flow_import_template(tenant=tenant, template_name=template_name, user=user)


_MISSING = object()
_WIRING = {"next", "on_error", "on_timeout", "open", "closed", "holiday", "branches"}


@dataclass
class MigrationResult:
    version: FlowVersion
    from_template_version: int | None
    to_template_version: int
    kept_settings: list[str] = field(default_factory=list)
    kept_nodes: list[str] = field(default_factory=list)
    dropped_edges: list[str] = field(default_factory=list)


def _merge(
    *, current: dict, base: dict | None, target: dict
) -> tuple[dict, list[str], list[str], list[str]]:
    """A three-way merge: the new template, plus every setting the admin changed from the template
    version they started with (without that base, every non-wiring setting of theirs counts)."""
    result = copy.deepcopy(target)
    kept: list[str] = []
    base_nodes = (base or {}).get("nodes", {})
    for node_id, node in result["nodes"].items():
        mine = current["nodes"].get(node_id)
        if mine is None or mine.get("type") != node["type"]:
            continue
        theirs = base_nodes.get(node_id) if base is not None else None
        for key in (set(mine) | set(theirs or {})) - {"type"}:
            my_value = mine.get(key, _MISSING)
            if base is not None:
                if theirs is not None and my_value == theirs.get(key, _MISSING):
                    continue
            elif key in _WIRING or my_value is _MISSING:
                continue
            if my_value == node.get(key, _MISSING):
                continue
            if my_value is _MISSING:
                node.pop(key, None)
            else:
                node[key] = copy.deepcopy(my_value)
            kept.append(f"{node_id}.{key}")
    kept_nodes = [
        node_id
        for node_id in current["nodes"]
        if node_id not in result["nodes"] and node_id not in base_nodes and base is not None
    ]
    for node_id in kept_nodes:
        result["nodes"][node_id] = copy.deepcopy(current["nodes"][node_id])
    dropped: list[str] = []
    for node_id, node in result["nodes"].items():
        for key in ("next", "on_error", "on_timeout", "open", "closed", "holiday"):
            if node.get(key) is not None and node[key] not in result["nodes"]:
                fallback = target["nodes"].get(node_id, {}).get(key)
                node[key] = fallback if fallback in result["nodes"] else None
                dropped.append(f"{node_id}.{key}")
        for index, branch in enumerate(node.get("branches") or []):
            if branch.get("next") is not None and branch["next"] not in result["nodes"]:
                branch["next"] = None
                dropped.append(f"{node_id}.branches[{index}].next")
    variables = {v["name"]: v for v in target.get("variables") or []}
    base_variables = {v["name"]: v for v in (base or {}).get("variables") or []}
    for variable in current.get("variables") or []:
        if base_variables.get(variable["name"]) != variable:
            variables[variable["name"]] = copy.deepcopy(variable)
    result["variables"] = list(variables.values())
    for key in ("name", "description", "layout"):
        if key in current:
            result[key] = current[key]
    return result, sorted(kept), kept_nodes, dropped


def flow_migrate(
    *,
    flow: Flow,
    user: User | None = None,
    to_version: int | None = None,
    template_name: str | None = None,
    publish: bool = True,
) -> MigrationResult:
    """Moves flow to a newer version of its template, keeping the admin's own node settings."""
    _require(user, flow.tenant, "change")
    name = template_name or flow.template_name
    if not name:
        raise ValidationError(
            f"Flow {flow.name!r} did not come from a template; name the template to migrate to."
        )
    versions = template_versions(name)
    if not versions:
        raise ValidationError(f"There is no flow template named {name!r}.")
    to_version = to_version or versions[-1]
    target = template_load(name, to_version)
    if target is None:
        raise ValidationError(f"Template {name!r} has no version {to_version}; it has {versions}.")
    if target["kind"] != flow.kind:
        raise ValidationError(
            f"Template {name!r} is a {target['kind']} flow; {flow.name!r} is {flow.kind}."
        )
    if name == flow.template_name and flow.template_version and to_version <= flow.template_version:
        raise ValidationError(
            f"Flow {flow.name!r} is already at template version {flow.template_version}; "
            f"nothing newer than that to migrate to (asked for {to_version})."
        )
    latest = selectors.flow_version_latest(flow=flow)
    current = latest.definition if latest else target
    base = (
        template_load(name, flow.template_version)
        if name == flow.template_name and flow.template_version
        else None
    )
    merged, kept, kept_nodes, dropped = _merge(current=current, base=base, target=target)
    merged["template"] = {"name": name, "version": to_version}
    with transaction.atomic():
        version = flow_version_create(
            flow=flow,
            definition=merged,
            user=user,
            note=f"migrated to template {name} v{to_version}",
        )
        from_version = flow.template_version
        flow.template_name, flow.template_version = name, to_version
        flow.save(update_fields=["template_name", "template_version"])
        if publish:
            version = flow_version_publish(version=version, user=user)
    return MigrationResult(
        version=version,
        from_template_version=from_version,
        to_template_version=to_version,
        kept_settings=kept,
        kept_nodes=kept_nodes,
        dropped_edges=dropped,
    )


# --- node authorization -----------------------------------------------------------------------


def node_authorization_authorize(
    *, tenant: Tenant, node: str, user: User | None
) -> NodeAuthorization:
    if node not in AuthorizableNode.values:
        raise ValidationError(
            f"{node!r} is not a node that needs authorization; choose one of "
            f"{', '.join(AuthorizableNode.values)}."
        )
    authorization, _ = NodeAuthorization.objects.get_or_create(tenant=tenant, node=node)
    authorization.state = NodeAuthorization.State.AUTHORIZED
    authorization.authorized_by = user
    authorization.authorized_at = timezone.now()
    authorization.save(update_fields=["state", "authorized_by", "authorized_at"])
    return authorization


def node_authorization_revoke(*, tenant: Tenant, node: str, user: User | None) -> NodeAuthorization:
    authorization, _ = NodeAuthorization.objects.get_or_create(tenant=tenant, node=node)
    authorization.state = NodeAuthorization.State.UNAUTHORIZED
    authorization.authorized_by = user
    authorization.authorized_at = timezone.now()
    authorization.save(update_fields=["state", "authorized_by", "authorized_at"])
    return authorization


# --- runs -------------------------------------------------------------------------------------


def _system_context(
    *, conversation: Conversation, message: Message | None, extra: dict | None
) -> dict:
    system: dict = {
        "conversation": {
            "id": conversation.pk,
            "uuid": str(conversation.uuid),
            "kind": conversation.kind,
            "channel_name": channel_display_name(conversation.kind),
            "status": conversation.status,
            "asset": conversation.asset_id,
        },
        "customer": {"id": conversation.customer_id, "name": conversation.customer.display_name},
        "now": timezone.now().isoformat(),
    }
    if message is not None:
        system["message"] = {
            "id": message.pk,
            "text": message.text,
            "content_type": message.content_type,
            "content": message.content,
        }
    if extra:
        system.update(extra)
    return system


def _state_for(
    *, version: FlowVersion, conversation: Conversation, system: dict, seed_defaults: bool = False
) -> RunState:
    declared = selectors.variable_declarations(
        tenant=conversation.tenant, definitions=[version.definition]
    )
    state = RunState(
        definition=version.definition,
        variables=conversation.variables if isinstance(conversation.variables, dict) else {},
        declared={name: spec["type"] for name, spec in declared.items()},
        system=system,
        authorized=frozenset(selectors.node_authorizations_granted(tenant=conversation.tenant)),
        agent_visible=frozenset(name for name, spec in declared.items() if spec["agent_visible"]),
    )
    if seed_defaults:
        # A new run starts with the defaults of every variable the conversation has no value for.
        for name, spec in declared.items():
            if name not in state.variables and spec["default"] is not None:
                state.variables[name] = coerce(spec["type"], spec["default"])
                state.changed.add(name)
    return state


def _store(
    *, run: FlowRun, state: RunState, result, conversation: Conversation, fx: Effects
) -> FlowRun:
    """Writes the steps and the run's new status; sends a failed inbound run to the default queue."""
    if result.status == "failed" and run.trigger == FlowKind.INBOUND:
        try:
            with transaction.atomic():
                outputs = fx.enqueue_default(variables=dict(state.variables))
            state.steps.append(
                StepRecord(
                    "default_queue",
                    "fallback",
                    {"error": result.error},
                    outputs,
                    "fallback",
                    None,
                    "",
                    timezone.now(),
                )
            )
        except Exception as exc:
            state.steps.append(
                StepRecord(
                    "default_queue",
                    "fallback",
                    {"error": result.error},
                    {},
                    "error",
                    None,
                    f"{type(exc).__name__}: {exc}",
                    timezone.now(),
                )
            )
            logger.exception("flow run %s could not reach the default queue", run.pk)
    first_seq = run.step_count
    run.step_count += len(state.steps)
    run.status = {
        "completed": FlowRun.Status.COMPLETED,
        "waiting": FlowRun.Status.WAITING,
        "failed": FlowRun.Status.FAILED,
    }[result.status]
    run.current_node = result.node_id or ""
    run.due_at = result.wait_until
    if result.error:
        run.error = result.error
    if result.status != "waiting":
        run.finished_at = timezone.now()
    if run.pk is None:
        run.save(force_insert=True)  # a new run is stored once, as the walk left it
    else:
        run.save(
            update_fields=["step_count", "status", "current_node", "due_at", "error", "finished_at"]
        )
    FlowRunStep.objects.bulk_create(
        [
            FlowRunStep(
                run=run,
                seq=first_seq + index + 1,
                node_id=step.node_id,
                node_type=step.node_type,
                inputs=step.inputs,
                outputs=step.outputs,
                path=step.path,
                next_node=step.next_node or "",
                error=step.error,
                at=step.at or timezone.now(),
            )
            for index, step in enumerate(state.steps)
        ]
    )
    if state.changed:
        Conversation.objects.filter(pk=conversation.pk).update(variables=state.variables)
        _push_variables_changed(
            conversation=conversation, names=state.changed & state.agent_visible
        )
    return run


def _push_variables_changed(*, conversation: Conversation, names: set[str]) -> None:
    """The owner's desktop re-reads the variables an agent sees, so an answer that sets one shows
    without a reload. Only agent-visible names are given. A conversation nobody owns yet (a new
    one, in its first flow run) has no desktop to tell: nothing is pushed."""
    shown = sorted(names)
    if not shown or not conversation.owner_id:
        return
    send_event_on_commit(
        groups=[agent_group(conversation.owner_id)],
        event="conversation.variables",
        payload={"conversation_id": conversation.pk, "names": shown},
    )


# No savepoint of its own: a failed start undoes the caller's block (the inbound pipeline runs it
# in a savepoint of its own; tasks run it as their whole transaction).
@transaction.atomic(savepoint=False)
def flow_run_start(
    *,
    version: FlowVersion,
    conversation: Conversation,
    trigger: str,
    message: Message | None = None,
    trigger_data: dict | None = None,
    extra_context: dict | None = None,
    conversation_locked: bool = False,
) -> FlowRun:
    """Runs a new run of version up to its first wait or its end.

    conversation_locked: the caller holds the conversation's row (it was created in the current
    transaction) and passes it with its customer and tenant loaded, so it is not read again."""
    if not conversation_locked:
        conversation = (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("customer", "tenant")
            .get(pk=conversation.pk)
        )
    # Stored when the walk stops (see _store): nothing during the walk needs its row.
    run = FlowRun(
        tenant=conversation.tenant,
        flow=version.flow,
        flow_version=version,
        conversation=conversation,
        trigger=trigger,
        trigger_data=trigger_data or {},
        started_at=timezone.now(),
    )
    state = _state_for(
        version=version,
        conversation=conversation,
        seed_defaults=True,
        system=_system_context(conversation=conversation, message=message, extra=extra_context),
    )
    fx = LiveEffects(tenant=conversation.tenant, conversation=conversation)
    result = advance(state=state, fx=fx, node_id=version.definition["start"])
    return _store(run=run, state=state, result=result, conversation=conversation, fx=fx)


@transaction.atomic
def _resume(
    *, run_id: int, resume: tuple, message: Message | None = None, now: datetime | None = None
) -> FlowRun | None:
    """Claims a waiting run (only one resumer wins) and walks on from its wait node."""
    claim = FlowRun.objects.filter(pk=run_id, status=FlowRun.Status.WAITING)
    if resume[0] == "timeout":
        claim = claim.filter(due_at__lte=now or timezone.now())
    if not claim.update(status=FlowRun.Status.RUNNING):
        return None
    run = FlowRun.objects.select_related("flow_version", "flow").get(pk=run_id)
    conversation = (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("customer", "tenant")
        .get(pk=run.conversation_id)
    )
    state = _state_for(
        version=run.flow_version,
        conversation=conversation,
        system=_system_context(
            conversation=conversation, message=message, extra=run.trigger_data.get("context")
        ),
    )
    fx = LiveEffects(tenant=conversation.tenant, conversation=conversation)
    result = advance(state=state, fx=fx, node_id=run.current_node, resume=resume)
    return _store(run=run, state=state, result=result, conversation=conversation, fx=fx)


def flow_run_resume_with_reply(*, run: FlowRun, message: Message) -> FlowRun | None:
    return _resume(run_id=run.pk, resume=("reply", message.text), message=message)


def flow_run_time_out(*, run_id: int, now: datetime | None = None) -> FlowRun | None:
    return _resume(run_id=run_id, resume=("timeout", None), now=now)


def flow_runs_time_out_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """The sweep: every waiting run whose reply timeout passed takes its timeout path, once."""
    now = now or timezone.now()
    due = list(
        FlowRun.objects.filter(status=FlowRun.Status.WAITING, due_at__lte=now)
        .order_by("due_at")
        .values_list("pk", flat=True)[:limit]
    )
    done = 0
    for run_id in due:
        try:
            if flow_run_time_out(run_id=run_id, now=now) is not None:
                done += 1
        except Exception:
            logger.exception("flow run %s: timeout failed", run_id)
    return done


# Published versions never change (a change is a new version), so their documents are kept per
# process once read: a run then costs no read and no JSON decoding of its flow. Bounded by the
# versions published, which are few.
_published: dict[int, tuple[int, int, int, dict]] = {}
_PUBLISHED_KEEP = 2000


def _entry_flow_current(*, asset_id: int) -> tuple[Flow, FlowVersion | None] | None:
    """The asset's entry point flow and its current published version, in one read."""
    try:
        from routing.models import EntryPoint
    except ImportError:
        return None
    current = (
        FlowVersion.objects.filter(flow=OuterRef("flow_id"), status=FlowVersion.Status.PUBLISHED)
        .order_by("-number")
        .values("pk")[:1]
    )
    entry_point = (
        EntryPoint.objects.filter(asset_id=asset_id, flow__isnull=False)
        .select_related("flow")
        .annotate(current_version_id=Subquery(current))
        .first()
    )
    if entry_point is None:
        return None
    flow = entry_point.flow
    version_id = entry_point.current_version_id
    if version_id is None:
        return flow, None
    known = _published.get(version_id)
    if known is None:
        row = (
            FlowVersion.objects.filter(pk=version_id, status=FlowVersion.Status.PUBLISHED)
            .values_list("tenant_id", "flow_id", "number", "definition")
            .first()
        )
        if row is None:
            return flow, None
        if len(_published) >= _PUBLISHED_KEEP:
            _published.clear()
        known = _published[version_id] = row
    tenant_id, flow_id, number, definition = known
    version = FlowVersion(
        pk=version_id,
        tenant_id=tenant_id,
        flow=flow,
        number=number,
        definition=definition,
        status=FlowVersion.Status.PUBLISHED,
    )
    version._state.adding = False
    return flow, version


def _queue_without_flow(*, conversation: Conversation, reason: str) -> None:
    """No flow can run for this contact: it waits in the tenant's default queue, not nowhere."""
    from routing.models import ACTIVE_TASK_STATUSES, Task
    from routing.selectors import queue_default
    from routing.services import task_enqueue

    if conversation.owner_id is not None:
        return  # an agent already has it
    if Task.objects.filter(conversation=conversation, status__in=ACTIVE_TASK_STATUSES).exists():
        return
    queue = queue_default(tenant=conversation.tenant)
    if queue is None:
        logger.warning(
            "conversation %s: %s and tenant %s has no default queue; it is not queued",
            conversation.pk,
            reason,
            conversation.tenant_id,
        )
        return
    try:
        task_enqueue(conversation=conversation, queue=queue, variables=dict(conversation.variables))
    except ValidationError as exc:
        logger.warning(
            "conversation %s: %s and the default queue refused it: %s",
            conversation.pk,
            reason,
            "; ".join(exc.messages),
        )


def flow_inbound_message_handle(
    *, message_id: int, conversation_created: bool = False, fresh: bool = False
) -> FlowRun | None:
    """An inbound message: answers a run waiting for the customer, or starts the entry point's
    flow for a conversation that has not run it yet.

    fresh: the conversation was opened in the current transaction (the inbound pipeline runs the
    flow there), so no run can exist for it yet and its row is already ours."""
    message = (
        Message.objects.select_related(
            "conversation", "conversation__customer", "conversation__tenant"
        )
        .filter(pk=message_id)
        .first()
    )
    if message is None or message.direction != "in":
        return None
    conversation = message.conversation
    fresh = fresh and conversation_created
    if not fresh:
        waiting = selectors.flow_run_waiting(conversation=conversation)
        if waiting is not None:
            return flow_run_resume_with_reply(run=waiting, message=message)
    if conversation.status != Conversation.Status.OPEN:
        return None
    entry = _entry_flow_current(asset_id=conversation.asset_id)
    if entry is None:
        _queue_without_flow(conversation=conversation, reason="the asset has no entry point flow")
        return None
    flow, version = entry
    if not fresh and FlowRun.objects.filter(conversation=conversation, flow=flow).exists():
        return None
    if version is None:
        _queue_without_flow(
            conversation=conversation, reason=f"flow {flow.name} has no published version"
        )
        return None
    return flow_run_start(
        version=version,
        conversation=conversation,
        trigger=FlowKind.INBOUND,
        message=message,
        conversation_locked=fresh,
    )


def flow_event_run(*, conversation_id: int, kind: str, data: dict | None = None) -> FlowRun | None:
    """Runs the tenant's event flow of kind for a conversation; the main flow's variables reach it
    as one embedded JSON object, `main_flow`."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"{kind!r} is not an event flow kind")
    conversation = Conversation.objects.filter(pk=conversation_id).select_related("tenant").first()
    if conversation is None:
        return None
    flow = selectors.flow_for_event(tenant=conversation.tenant, kind=kind)
    if flow is None:
        return None
    version = selectors.flow_version_for_conversation(flow=flow, conversation=conversation)
    if version is None:
        return None
    context = {
        "main_flow": dict(conversation.variables or {}),
        "task": data or {},
        "event": {"kind": kind},
    }
    return flow_run_start(
        version=version,
        conversation=conversation,
        trigger=kind,
        trigger_data=data or {},
        extra_context=context,
    )


def flow_event_enqueue(*, conversation_id: int, kind: str, data: dict | None = None) -> None:
    """Runs the event flow in a task after the current transaction commits."""
    from routing.flows.tasks import run_event_flow

    transaction.on_commit(
        lambda: run_event_flow.delay(conversation_id, kind, data or {}), robust=True
    )


# --- variables --------------------------------------------------------------------------------


def global_variable_check(*, variable: GlobalVariable) -> dict[str, str]:
    """Field -> problem; also normalizes the default to the variable's type."""
    problems: dict[str, str] = {}
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,63}", variable.name or ""):
        problems["name"] = "Use letters, digits and underscores, starting with a letter."
    elif variable.name in RESERVED_NAMES:
        problems["name"] = f"{variable.name!r} is reserved; choose another name."
    if variable.agent_editable and not variable.agent_visible:
        problems["agent_editable"] = "An agent-editable variable must also be agent-visible."
    if variable.type not in VariableType.values:
        problems["type"] = f"Choose one of {', '.join(VariableType.values)}."
    elif variable.default is not None:
        try:
            variable.default = coerce(variable.type, variable.default)
        except ValueError as exc:
            problems["default"] = f"Not a {variable.type}: {exc}."
    return problems


def global_variable_save(*, variable: GlobalVariable) -> GlobalVariable:
    problems = global_variable_check(variable=variable)
    if problems:
        raise ValidationError(problems)
    try:
        with transaction.atomic():
            variable.save()
    except IntegrityError:
        raise ValidationError(
            {"name": f"A global variable named {variable.name!r} already exists."}
        ) from None
    return variable


def business_calendar_check(*, timezone_name: str, hours: Any, holidays: Any) -> None:
    """Raises ValidationError unless hours is {"mon": [["09:00", "17:00"]], ...} and holidays a list of
    ISO dates, in a known time zone."""
    problems: dict[str, str] = {}
    try:
        ZoneInfo(timezone_name)
    except (ZoneInfoNotFoundError, ValueError):
        problems["timezone"] = f"{timezone_name!r} is not a known time zone (e.g. Europe/Berlin)."
    days = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
    clock = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")
    if not isinstance(hours, dict) or not set(hours) <= days:
        problems["hours"] = (
            f"Give an object with day keys ({', '.join(sorted(days))}) and [[from, to]] lists."
        )
    else:
        for day, spans in hours.items():
            if not isinstance(spans, list) or not all(
                isinstance(s, list)
                and len(s) == 2
                and all(isinstance(t, str) and clock.match(t) for t in s)
                and s[0] < s[1]
                for s in spans
            ):
                problems["hours"] = (
                    f'{day}: give a list of ["HH:MM", "HH:MM"] spans, each from before to.'
                )
                break
    if not isinstance(holidays, list) or not all(
        isinstance(d, str) and parse_date(d) for d in holidays
    ):
        problems["holidays"] = 'Give a list of dates as "YYYY-MM-DD".'
    if problems:
        raise ValidationError(problems)


# The flow variable the shipped inbound flows fill from {{customer.name}}.
CUSTOMER_NAME_VARIABLE = "customer_name"


@transaction.atomic
def conversation_variable_set(
    *, conversation: Conversation, name: str, value: Any, agent: Agent
) -> Any:
    """An agent's edit in the desktop: only agent-editable variables, typed; runs "task modified"."""
    conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
    if agent.tenant_id != conversation.tenant_id:
        raise ValidationError("No such conversation.")
    spec = selectors.conversation_variable_declarations(conversation=conversation).get(name)
    if spec is None or not spec["agent_visible"]:
        raise ValidationError({"name": f"There is no variable {name!r} on this conversation."})
    if not spec["agent_editable"]:
        raise ValidationError({"name": f"Variable {name!r} is not agent-editable."})
    try:
        value = coerce(spec["type"], value)
    except ValueError as exc:
        raise ValidationError({"value": f"{name} is a {spec['type']} variable: {exc}."}) from None
    variables = dict(conversation.variables or {})
    previous = variables.get(name)
    variables[name] = value
    conversation.variables = variables
    conversation.save(update_fields=["variables"])
    if name == CUSTOMER_NAME_VARIABLE and isinstance(value, str):
        # The agent names the customer, not this conversation: the profile keeps it, and the
        # next conversation's flow reads it back through {{customer.name}}.
        from channels_app.services.customers import customer_profile_update

        customer_profile_update(customer=conversation.customer, display_name=value)
    flow_event_enqueue(
        conversation_id=conversation.pk,
        kind=FlowKind.TASK_MODIFIED,
        data={"changed": {name: {"from": previous, "to": value}}, "agent_id": agent.pk},
    )
    return value


# --- dry run ----------------------------------------------------------------------------------


def flow_dry_run(
    *,
    tenant: Tenant,
    definition: dict,
    text: str = "",
    variables: dict | None = None,
    replies: list[str] | None = None,
    channel: str = "whatsapp",
    customer_name: str = "Sample Customer",
    now: datetime | None = None,
    validate: bool = True,
    allow_http: bool = False,
) -> dict:
    """Runs a flow against a sample inbound message without sending, queueing or storing anything.

    Each wait for a reply takes the next of `replies`, or times out when there is none. validate=False
    skips the document checks for a definition known to be valid (a stored version). HTTP nodes
    get a simulated answer unless allow_http (the caller asked and may change flows): then GET
    requests are made for real.
    """
    problems = (
        flow_validate(tenant=tenant, definition=definition, check_authorization=False)
        if validate
        else []
    )
    if problems:
        raise FlowValidationError(problems)
    declared = selectors.variable_declarations(tenant=tenant, definitions=[definition])
    start_variables = {
        name: coerce(spec["type"], spec["default"])
        for name, spec in declared.items()
        if spec["default"] is not None
    }
    start_variables.update(variables or {})
    system = {
        "conversation": {
            "id": None,
            "kind": channel,
            "channel_name": channel_display_name(channel),
            "status": "open",
        },
        "customer": {"id": None, "name": customer_name},
        "message": {"id": None, "text": text, "content_type": "text", "content": {}},
        "now": (now or timezone.now()).isoformat(),
    }
    if definition["kind"] != FlowKind.INBOUND:
        system.update(
            {"main_flow": dict(variables or {}), "task": {}, "event": {"kind": definition["kind"]}}
        )
    state = RunState(
        definition=definition,
        variables=dict(start_variables),
        declared={n: s["type"] for n, s in declared.items()},
        system=system,
    )
    fx = DryEffects(tenant=tenant, now=now, allow_http=allow_http)
    pending = list(replies or [])
    result = advance(state=state, fx=fx, node_id=definition["start"])
    while result.status == "waiting":
        resume = ("reply", pending.pop(0)) if pending else ("timeout", None)
        if resume[0] == "reply":
            state.system["message"] = {
                "id": None,
                "text": resume[1],
                "content_type": "text",
                "content": {},
            }
        result = advance(state=state, fx=fx, node_id=result.node_id, resume=resume)
    if result.status == "failed" and definition["kind"] == FlowKind.INBOUND:
        fx.enqueue_default(variables=state.variables)
    return {
        "status": result.status,
        "error": result.error,
        "path": [
            {
                "node": s.node_id,
                "type": s.node_type,
                "path": s.path,
                "next": s.next_node,
                "inputs": s.inputs,
                "outputs": s.outputs,
                "error": s.error,
            }
            for s in state.steps
        ],
        "variables": state.variables,
        "actions": fx.actions,
    }


def node_authorizations_ensure(*, tenant: Tenant) -> None:
    """One row per authorizable node, so the console can list and authorize each."""
    for node in AuthorizableNode.values:
        NodeAuthorization.objects.get_or_create(tenant=tenant, node=node)
