"""Variable types, coercion into them, and `{{variable}}` templates."""

import json
import re
from datetime import datetime
from typing import Any

from routing.flows.models import VariableType

# Names the engine fills itself; a variable may not take them.
RESERVED_NAMES: frozenset[str] = frozenset(
    {"message", "conversation", "customer", "task", "main_flow", "http", "now", "reply", "event"}
)
_TEMPLATE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*\}\}")
_WHOLE = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*\}\}$")
_TRUE = {"true", "yes", "1", "on", "y"}
_FALSE = {"false", "no", "0", "off", "n", ""}


def coerce(type_: str, value: Any) -> Any:
    """Returns value as a JSON-storable value of type_, or raises ValueError saying why."""
    if value is None:
        return None
    if type_ == VariableType.STRING:
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, dict | list):
            return json.dumps(value, separators=(",", ":"), sort_keys=True)
        return str(value)
    if type_ == VariableType.NUMBER:
        if isinstance(value, bool):
            raise ValueError("expected a number, got a boolean")
        if isinstance(value, int | float):
            return value
        if isinstance(value, str):
            text = value.strip()
            try:
                return int(text)
            except ValueError:
                pass
            try:
                number = float(text)
            except ValueError:
                raise ValueError(f"expected a number, got {value!r}") from None
            if number != number or number in (float("inf"), float("-inf")):
                raise ValueError(f"expected a finite number, got {value!r}")
            return number
        raise ValueError(f"expected a number, got {type(value).__name__}")
    if type_ == VariableType.BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError(f"expected true or false, got {value!r}")
    if type_ == VariableType.DATETIME:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, str):
            text = value.strip()
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError:
                raise ValueError(f"expected an ISO 8601 date-time, got {value!r}") from None
            return parsed.isoformat()
        raise ValueError(f"expected an ISO 8601 date-time, got {type(value).__name__}")
    if type_ == VariableType.JSON:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise ValueError("expected JSON text") from None
        json.dumps(value)
        return value
    raise ValueError(f"unknown variable type {type_!r}")


def lookup(context: dict, path: str) -> Any:
    """Follows a dotted path (`http.body.customer.tier`, `items.0`) through dicts and lists."""
    current: Any = context
    for part in path.split("."):
        if isinstance(current, dict):
            if part not in current:
                return None
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return str(value)


def render(value: Any, context: dict) -> Any:
    """Fills `{{path}}` placeholders. A string that is one placeholder keeps the value's type, so a
    JSON body can embed an object; anywhere else the value is written as text."""
    if isinstance(value, str):
        whole = _WHOLE.match(value)
        if whole:
            return lookup(context, whole.group(1))
        if "{{" not in value:
            return value
        return _TEMPLATE.sub(lambda m: as_text(lookup(context, m.group(1))), value)
    if isinstance(value, dict):
        return {key: render(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, context) for item in value]
    return value


def placeholders(value: Any) -> set[str]:
    """The first path segment of every placeholder in value (for validation)."""
    found: set[str] = set()
    if isinstance(value, str):
        found.update(m.group(1).split(".")[0] for m in _TEMPLATE.finditer(value))
    elif isinstance(value, dict):
        for item in value.values():
            found |= placeholders(item)
    elif isinstance(value, list):
        for item in value:
            found |= placeholders(item)
    return found
