"""The flow engine: walks a flow version's nodes for one run, following flow, branch and error
paths, until the run ends or waits for the customer.

It knows nothing about the database beyond what the effects object does for it, so the same walk
serves real runs (LiveEffects) and the admin's dry run (DryEffects).
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils.dateparse import parse_date

from routing.flows.effects import Effects
from routing.flows.variables import as_text, coerce, lookup, render

MAX_STEPS_PER_ADVANCE = 200


class NodeError(Exception):
    """A node failed: the run takes the node's error path."""

    def __init__(self, message: str, outputs: dict | None = None):
        super().__init__(message)
        self.outputs = outputs or {}


@dataclass
class StepRecord:
    node_id: str
    node_type: str
    inputs: dict
    outputs: dict
    path: str
    next_node: str | None
    error: str = ""
    at: datetime | None = None


@dataclass
class Outcome:
    path: str
    next: str | None
    inputs: dict = field(default_factory=dict)
    outputs: dict = field(default_factory=dict)
    wait_until: datetime | None = None


@dataclass
class RunState:
    """What a run works on: the conversation's variables (mutated in place), what the flow
    declared, and what the engine fills itself (message, conversation, task, main_flow, http)."""

    definition: dict
    variables: dict
    declared: dict[str, str]
    system: dict
    steps: list[StepRecord] = field(default_factory=list)
    changed: set[str] = field(default_factory=set)
    # The tenant's authorized node families, read when the run starts or resumes; None skips
    # the check (dry runs).
    authorized: frozenset[str] | None = None
    # The declared variables an agent sees in the desktop (told live when the run changes them).
    agent_visible: frozenset[str] = frozenset()

    def context(self) -> dict:
        return {**self.variables, **self.system}

    def set_variable(self, name: str, value: Any) -> Any:
        type_ = self.declared.get(name)
        if type_:
            try:
                value = coerce(type_, value)
            except ValueError as exc:
                raise NodeError(f"variable {name!r} ({type_}): {exc}") from None
        self.variables[name] = value
        self.changed.add(name)
        return value


@dataclass
class AdvanceResult:
    status: str  # "completed", "waiting", "failed"
    node_id: str | None = None
    wait_until: datetime | None = None
    error: str = ""


# --- nodes ------------------------------------------------------------------------------------


def _start(node: dict, state: RunState, fx: Effects, resume) -> Outcome:
    return Outcome(path="flow", next=node.get("next"))


def _number(value: Any, side: str) -> float:
    if isinstance(value, bool):
        raise NodeError(f"{side} is a boolean, not a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise NodeError(f"{side} {value!r} is not a number") from None


def _condition_holds(condition: dict, context: dict) -> bool:
    left = lookup(context, condition["value_of"])
    right = render(condition.get("value"), context)
    operator = condition["operator"]
    fold = condition.get("ignore_case", False)

    def text(value: Any) -> str:
        result = as_text(value)
        return result.casefold() if fold else result

    if operator in ("is_empty", "is_not_empty"):
        empty = left is None or left == "" or left == [] or left == {}
        return empty if operator == "is_empty" else not empty
    if operator in ("equals", "not_equals"):
        if (
            isinstance(left, int | float)
            and not isinstance(left, bool)
            and isinstance(right, int | float)
        ):
            same = left == right
        elif isinstance(left, bool) or isinstance(right, bool):
            same = text(left) == text(right)
        else:
            same = text(left) == text(right)
        return same if operator == "equals" else not same
    if operator in ("contains", "not_contains"):
        found = text(right) in text(left)
        return found if operator == "contains" else not found
    if operator == "starts_with":
        return text(left).startswith(text(right))
    if operator == "ends_with":
        return text(left).endswith(text(right))
    if operator == "matches":
        try:
            return (
                re.search(as_text(right), as_text(left), re.IGNORECASE if fold else 0) is not None
            )
        except re.error as exc:
            raise NodeError(f"pattern {right!r} is not a valid regular expression: {exc}") from None
    if operator in ("in", "not_in"):
        if not isinstance(right, list):
            raise NodeError(f"operator {operator} needs a list value, got {right!r}")
        found = text(left) in {text(item) for item in right}
        return found if operator == "in" else not found
    a, b = _number(left, condition["value_of"]), _number(right, "value")
    return {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[operator]


def _evaluate(node: dict, state: RunState, fx: Effects, resume) -> Outcome:
    context = state.context()
    inputs = {
        cond["value_of"]: lookup(context, cond["value_of"])
        for branch in node["branches"]
        for cond in branch["conditions"]
    }
    for branch in node["branches"]:
        results = [_condition_holds(cond, context) for cond in branch["conditions"]]
        if (any if branch.get("match") == "any" else all)(results):
            return Outcome(
                path=branch["name"],
                next=branch["next"],
                inputs=inputs,
                outputs={"branch": branch["name"]},
            )
    return Outcome(
        path="default", next=node.get("next"), inputs=inputs, outputs={"branch": "default"}
    )


def _set_variables(node: dict, state: RunState, fx: Effects, resume) -> Outcome:
    context = state.context()
    outputs = {}
    for assignment in node["assignments"]:
        value = render(assignment["value"], context)
        outputs[assignment["name"]] = state.set_variable(assignment["name"], value)
        context[assignment["name"]] = outputs[assignment["name"]]
    return Outcome(path="flow", next=node.get("next"), outputs=outputs)


def _send_message(node: dict, state: RunState, fx: Effects, resume) -> Outcome:
    """Text (or rich content); with a template, a WhatsApp template goes out instead whenever
    free text cannot: no text given, or the customer's 24-hour window is closed."""
    context = state.context()
    text = as_text(render(node.get("text", ""), context))
    content = render(node.get("content"), context)
    template = None
    if node.get("template"):
        spec = node["template"]
        template = {
            "name": spec["name"],
            "language": spec["language"],
            "parameters": [as_text(render(p, context)) for p in spec.get("parameters", [])],
        }
    if not text and not content and template is None:
        raise NodeError("the message is empty after filling in its variables")
    result = fx.send_message(text=text, content=content, template=template)
    return Outcome(
        path="flow",
        next=node.get("next"),
        inputs={"text": text, "content": content, **({"template": template} if template else {})},
        outputs=result,
    )


def _wait_for_reply(node: dict, state: RunState, fx: Effects, resume) -> Outcome:
    if resume is None:
        until = fx.now() + timedelta(seconds=node["timeout_seconds"])
        return Outcome(
            path="wait", next=None, outputs={"due_at": until.isoformat()}, wait_until=until
        )
    kind, reply = resume
    if kind == "timeout":
        return Outcome(
            path="timeout",
            next=node.get("on_timeout"),
            outputs={"timed_out_after_seconds": node["timeout_seconds"]},
        )
    state.system["reply"] = reply
    outputs: dict = {"reply": reply}
    if node.get("save_as"):
        outputs[node["save_as"]] = state.set_variable(node["save_as"], reply)
    return Outcome(path="reply", next=node.get("next"), inputs={"reply": reply}, outputs=outputs)


def _http_request(node: dict, state: RunState, fx: Effects, resume) -> Outcome:
    context = state.context()
    url = as_text(render(node["url"], context))
    headers = {
        key: as_text(value) for key, value in render(node.get("headers") or {}, context).items()
    }
    body = render(node.get("body"), context)
    timeout = float(node.get("timeout_seconds", 5))
    inputs = {"method": node["method"], "url": url, "headers": sorted(headers), "body": body}
    response = fx.http(method=node["method"], url=url, headers=headers, body=body, timeout=timeout)
    outputs: dict = {"status": response["status"]}
    state.system["http"] = response
    if not 200 <= response["status"] < 300:
        raise NodeError(
            f"{node['method']} {url} answered HTTP {response['status']}", outputs=outputs
        )
    for name, path in (node.get("response_mapping") or {}).items():
        outputs[name] = state.set_variable(name, lookup(response, path))
    return Outcome(path="flow", next=node.get("next"), inputs=inputs, outputs=outputs)


def calendar_state(*, hours: dict, holidays: list, tz: str, at: datetime) -> str:
    """open / closed / holiday for a calendar at a moment."""
    local = at.astimezone(ZoneInfo(tz))
    if local.date().isoformat() in {
        parse_date(str(day)).isoformat() for day in holidays if parse_date(str(day))
    }:
        return "holiday"
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[local.weekday()]
    clock = local.strftime("%H:%M")
    for start, end in hours.get(day, []):
        if start <= clock < end:
            return "open"
    return "closed"


def _business_hours(node: dict, state: RunState, fx: Effects, resume) -> Outcome:
    calendar = fx.calendar(name=node["calendar"])
    if calendar is None:
        raise NodeError(f"business calendar {node['calendar']!r} does not exist in this tenant")
    now = fx.now()
    result = calendar_state(
        hours=calendar["hours"], holidays=calendar["holidays"], tz=calendar["timezone"], at=now
    )
    target = node.get(result)
    if result == "holiday" and "holiday" not in node:
        target = node.get("closed")
    return Outcome(
        path=result,
        next=target,
        inputs={"calendar": node["calendar"], "at": now.isoformat()},
        outputs={"state": result},
    )


def _queue_task(node: dict, state: RunState, fx: Effects, resume) -> Outcome:
    context = state.context()
    queue = as_text(render(node["queue"], context))
    priority_raw = render(node.get("priority", 5), context)
    try:
        priority = int(priority_raw)
    except (TypeError, ValueError):
        raise NodeError(f"contact priority {priority_raw!r} is not a whole number") from None
    if not 1 <= priority <= 10:
        raise NodeError(f"contact priority {priority} is outside 1-10")
    requirements = render(node.get("requirements") or [], context)
    relaxation = render(node.get("relaxation_steps") or [], context)
    inputs = {
        "queue": queue,
        "priority": priority,
        "requirements": requirements,
        "relaxation_steps": relaxation,
    }
    outputs = fx.enqueue(
        queue_name=queue,
        priority=priority,
        requirements=requirements,
        relaxation_steps=relaxation,
        variables=dict(state.variables),
    )
    return Outcome(path="flow", next=node.get("next"), inputs=inputs, outputs=outputs)


def _close_conversation(node: dict, state: RunState, fx: Effects, resume) -> Outcome:
    reason = node.get("reason") or "flow"
    wrap_up = as_text(render(node.get("wrap_up_code", ""), state.context()))
    outputs = fx.close(reason=reason, wrap_up_code=wrap_up)
    return Outcome(
        path="flow",
        next=node.get("next"),
        inputs={"reason": reason, "wrap_up_code": wrap_up},
        outputs=outputs,
    )


# The nodes that read or write the database. Only these run in a savepoint of their own: the others
# work on the run's state in memory (or call out over HTTP) and have nothing to roll back.
DATABASE_NODES = frozenset({"send_message", "business_hours", "queue_task", "close_conversation"})

HANDLERS: dict[str, Callable[..., Outcome]] = {
    "start": _start,
    "evaluate": _evaluate,
    "set_variables": _set_variables,
    "send_message": _send_message,
    "wait_for_reply": _wait_for_reply,
    "http_request": _http_request,
    "business_hours": _business_hours,
    "queue_task": _queue_task,
    "close_conversation": _close_conversation,
}


def _check_authorized(node: dict, state: RunState) -> None:
    """A published flow keeps running after an admin revokes a node authorization; its nodes of
    that family must then stop doing what was revoked."""
    from routing.flows.definitions import NODE_AUTHORIZATION

    family = NODE_AUTHORIZATION.get(node["type"])
    if family and state.authorized is not None and family not in state.authorized:
        raise NodeError(
            f'the "{family}" node authorization was revoked for this tenant, so {node["type"]} '
            "nodes may not run; an admin authorizes it again in the console (Node authorizations)"
        )


def advance(
    *, state: RunState, fx: Effects, node_id: str | None, resume: tuple | None = None
) -> AdvanceResult:
    """Runs nodes from node_id until the run ends, waits, or fails with no error path.

    resume is ("reply", text) or ("timeout", None) for a run waiting at node_id.
    """
    nodes = state.definition["nodes"]
    steps = 0
    while node_id is not None:
        steps += 1
        if steps > MAX_STEPS_PER_ADVANCE:
            return AdvanceResult(
                status="failed",
                node_id=node_id,
                error=f"the flow ran {MAX_STEPS_PER_ADVANCE} nodes without stopping (a loop?)",
            )
        node = nodes.get(node_id)
        if node is None:
            return AdvanceResult(
                status="failed", node_id=node_id, error=f"node {node_id!r} does not exist"
            )
        handler = HANDLERS[node["type"]]
        try:
            _check_authorized(node, state)
            if fx.dry or node["type"] not in DATABASE_NODES:
                outcome = handler(node, state, fx, resume)
            else:
                # A node's failed writes roll back alone; the run goes on along the error path.
                with transaction.atomic():
                    outcome = handler(node, state, fx, resume)
        except Exception as exc:  # any failing node takes the error path, never loses the contact
            outputs = getattr(exc, "outputs", {}) if isinstance(exc, NodeError) else {}
            message = str(exc) if isinstance(exc, NodeError) else f"{type(exc).__name__}: {exc}"
            if hasattr(exc, "messages") and not isinstance(exc, NodeError):
                message = "; ".join(exc.messages)
            target = node.get("on_error")
            state.steps.append(
                StepRecord(node_id, node["type"], {}, outputs, "error", target, message, fx.now())
            )
            resume = None
            if target is None:
                return AdvanceResult(
                    status="failed", node_id=node_id, error=f"node {node_id!r}: {message}"
                )
            node_id = target
            continue
        resume = None
        state.steps.append(
            StepRecord(
                node_id,
                node["type"],
                outcome.inputs,
                outcome.outputs,
                outcome.path,
                outcome.next,
                "",
                fx.now(),
            )
        )
        if outcome.wait_until is not None:
            return AdvanceResult(status="waiting", node_id=node_id, wait_until=outcome.wait_until)
        node_id = outcome.next
    return AdvanceResult(status="completed")
