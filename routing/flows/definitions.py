"""Flow documents: the JSON Schema check, the graph checks, and what each node needs.

Every problem is reported with the JSON path it is at (`$.nodes.ask.timeout_seconds`), so an
admin importing a file can find each one.
"""

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

from routing.flows.models import AuthorizableNode, FlowKind
from routing.flows.variables import RESERVED_NAMES, coerce

SCHEMA_PATH = Path(__file__).parent / "schema" / "flow.schema.json"

# Node type -> the authorization it needs (seed step 2: "task" and "engage" nodes).
NODE_AUTHORIZATION: dict[str, str] = {
    "queue_task": AuthorizableNode.TASK,
    "send_message": AuthorizableNode.ENGAGE,
    "close_conversation": AuthorizableNode.ENGAGE,
}

# Node type -> its outgoing edges other than next / on_error.
EXTRA_TARGETS: dict[str, tuple[str, ...]] = {
    "wait_for_reply": ("on_timeout",),
    "business_hours": ("open", "closed", "holiday"),
}


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"

    def as_dict(self) -> dict:
        return {"path": self.path, "message": self.message}


@lru_cache(maxsize=1)
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


def _leaf_errors(error: jsonschema.ValidationError):
    # if/then and oneOf nest the useful errors in error.context.
    if error.validator in ("oneOf", "anyOf") and error.context:
        deepest = max(len(e.absolute_path) for e in error.context)
        if deepest > len(error.absolute_path):
            for sub in error.context:
                if len(sub.absolute_path) == deepest:
                    yield from _leaf_errors(sub)
            return
    yield error


def _json_path(parts) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def schema_problems(document: Any) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for error in _validator().iter_errors(document):
        for leaf in _leaf_errors(error):
            parts = list(leaf.absolute_path)
            message = leaf.message
            if (
                leaf.validator == "anyOf"
                and leaf.context
                and all(e.validator == "required" for e in leaf.context)
            ):
                names = [name for e in leaf.context for name in e.validator_value]
                message = f"needs one of: {', '.join(names)}"
            elif leaf.validator == "required":
                missing = next(
                    (p for p in leaf.validator_value if p not in (leaf.instance or {})), None
                )
                if missing:
                    parts.append(missing)
                    message = "is required"
            elif leaf.validator == "additionalProperties" and isinstance(leaf.instance, dict):
                allowed = set((leaf.schema.get("properties") or {}).keys())
                extras = [key for key in leaf.instance if key not in allowed]
                for extra in extras:
                    key = (_json_path([*parts, extra]), "is not allowed here")
                    if key not in seen:
                        seen.add(key)
                        problems.append(Problem(*key))
                continue
            key = (_json_path(parts), message)
            if key not in seen:
                seen.add(key)
                problems.append(Problem(*key))
    return sorted(problems, key=lambda p: p.path)


def node_targets(node: dict) -> list[tuple[str, str | None]]:
    """(json path suffix, target) for every edge leaving node."""
    edges: list[tuple[str, str | None]] = []
    for key in ("next", "on_error", *EXTRA_TARGETS.get(node.get("type", ""), ())):
        if key in node:
            edges.append((key, node[key]))
    for index, branch in enumerate(node.get("branches") or []):
        edges.append((f"branches[{index}].next", branch.get("next")))
    return edges


def graph_problems(document: dict) -> list[Problem]:
    problems: list[Problem] = []
    nodes: dict = document["nodes"]
    kind = document["kind"]
    starts = [node_id for node_id, node in nodes.items() if node["type"] == "start"]
    if document["start"] not in nodes:
        problems.append(
            Problem("$.start", f"names node {document['start']!r}, which does not exist")
        )
    elif nodes[document["start"]]["type"] != "start":
        problems.append(Problem("$.start", "must name a node of type start"))
    if len(starts) > 1:
        problems.append(
            Problem("$.nodes", f"has {len(starts)} start nodes ({', '.join(starts)}); keep one")
        )
    for node_id in starts:
        trigger = nodes[node_id].get("trigger", kind)
        if trigger != kind:
            problems.append(
                Problem(
                    f"$.nodes.{node_id}.trigger", f"is {trigger!r} but the flow's kind is {kind!r}"
                )
            )
    for node_id, node in nodes.items():
        for suffix, target in node_targets(node):
            if target is not None and target not in nodes:
                problems.append(
                    Problem(
                        f"$.nodes.{node_id}.{suffix}",
                        f"names node {target!r}, which does not exist",
                    )
                )
            if target is not None and target in nodes and nodes[target]["type"] == "start":
                problems.append(
                    Problem(f"$.nodes.{node_id}.{suffix}", "may not lead back to the start node")
                )
        if node["type"] == "wait_for_reply" and kind != FlowKind.INBOUND:
            problems.append(
                Problem(
                    f"$.nodes.{node_id}.type", "event flows cannot wait for the customer's reply"
                )
            )
        if node["type"] == "set_variables":
            for index, assignment in enumerate(node["assignments"]):
                if assignment["name"] in RESERVED_NAMES:
                    problems.append(
                        Problem(
                            f"$.nodes.{node_id}.assignments[{index}].name",
                            f"{assignment['name']!r} is reserved; choose another name",
                        )
                    )
        if node["type"] == "http_request":
            for name in node.get("response_mapping") or {}:
                if name in RESERVED_NAMES:
                    problems.append(
                        Problem(
                            f"$.nodes.{node_id}.response_mapping.{name}",
                            f"{name!r} is reserved; choose another name",
                        )
                    )
    names: set[str] = set()
    for index, variable in enumerate(document.get("variables") or []):
        name = variable["name"]
        if name in RESERVED_NAMES:
            problems.append(
                Problem(f"$.variables[{index}].name", f"{name!r} is reserved; choose another name")
            )
        if name in names:
            problems.append(Problem(f"$.variables[{index}].name", f"{name!r} is declared twice"))
        names.add(name)
        if variable.get("agent_editable") and not variable.get("agent_visible"):
            problems.append(
                Problem(
                    f"$.variables[{index}].agent_editable",
                    "an agent-editable variable must be agent-visible",
                )
            )
        if variable.get("default") is not None:
            try:
                coerce(variable["type"], variable["default"])
            except ValueError as exc:
                problems.append(Problem(f"$.variables[{index}].default", str(exc)))
    return problems


def problems(document: Any) -> list[Problem]:
    """Every problem of the document, schema first; the graph is checked only on a valid shape."""
    found = schema_problems(document)
    if found:
        return found
    return graph_problems(document)


def required_authorizations(document: dict) -> dict[str, list[str]]:
    """Authorization -> the node ids that need it."""
    needed: dict[str, list[str]] = {}
    for node_id, node in document.get("nodes", {}).items():
        family = NODE_AUTHORIZATION.get(node.get("type", ""))
        if family:
            needed.setdefault(family, []).append(node_id)
    return needed


def authorization_problem(*, node_id: str, node_type: str, family: str) -> Problem:
    label = AuthorizableNode(family).label
    return Problem(
        f"$.nodes.{node_id}",
        f'node "{node_id}" ({node_type}) needs the "{family}" node authorization ({label}), '
        f"which is not authorized for this tenant. A workspace tenant owner authorizes it in the "
        f'admin console (Flows and variables > Node authorizations > select "{family}" > action '
        f'"Authorize") or with POST /api/v1/flow-node-authorizations/authorize/ {{"node": "{family}"}}.',
    )
