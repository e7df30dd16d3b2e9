"""The widget's extra pre-chat fields: their definitions (set by an admin) and a visitor's
answers, which become flow variables of the conversation they open."""

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

FIELD_TYPES = ("text", "email", "select")
KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
# Names the flow engine fills itself, and the ones live chat sets on every conversation.
TAKEN_KEYS = frozenset(
    {"message", "conversation", "customer", "task", "main_flow", "http", "now", "reply", "event"}
    | {"livechat_offline", "visitor_email"}
)
MAX_FIELDS = 10
MAX_ANSWER = 500


def prechat_fields_problem(fields: Any) -> str | None:
    """Why a list of field definitions is not usable, or None."""
    if not isinstance(fields, list):
        return "Give a list of fields."
    if len(fields) > MAX_FIELDS:
        return f"At most {MAX_FIELDS} fields."
    keys: set[str] = set()
    for number, field in enumerate(fields, start=1):
        where = f"Field {number}"
        if not isinstance(field, dict):
            return f"{where}: give an object with label, key and type."
        unknown = set(field) - {"label", "key", "type", "required", "options"}
        if unknown:
            return f"{where}: unknown {', '.join(sorted(unknown))}."
        label, key = field.get("label"), field.get("key")
        if not isinstance(label, str) or not label.strip() or len(label) > 80:
            return f"{where}: a label of 1 to 80 characters."
        if not isinstance(key, str) or not KEY.match(key):
            return f"{where}: the key is a variable name (letters, digits, underscores)."
        if key in TAKEN_KEYS or key in keys:
            return f"{where}: the key {key!r} is taken; choose another."
        keys.add(key)
        if field.get("type", "text") not in FIELD_TYPES:
            return f"{where}: the type is one of {', '.join(FIELD_TYPES)}."
        if not isinstance(field.get("required", False), bool):
            return f"{where}: required is true or false."
        options = field.get("options")
        if field.get("type") == "select":
            if (
                not isinstance(options, list)
                or not options
                or not all(isinstance(o, str) and o.strip() and len(o) <= 80 for o in options)
            ):
                return f"{where}: a select needs a list of options (texts)."
        elif options is not None:
            return f"{where}: only a select has options."
    return None


def prechat_public(fields: list[dict]) -> list[dict]:
    """What the widget renders."""
    return [
        {
            "label": f["label"],
            "key": f["key"],
            "type": f.get("type", "text"),
            "required": bool(f.get("required", False)),
            **({"options": list(f["options"])} if f.get("type") == "select" else {}),
        }
        for f in fields
    ]


def prechat_answers_clean(*, fields: list[dict], answers: Any, require: bool) -> dict[str, str]:
    """The answers as flow variables; raises ValueError with the reason a visitor reads.
    `require`: the answers open a conversation, so the required fields must be there."""
    if answers in (None, ""):
        answers = {}
    if not isinstance(answers, dict):
        raise ValueError("the pre-chat answers must be an object")
    known = {f["key"]: f for f in fields}
    unknown = sorted(set(answers) - set(known))
    if unknown:
        raise ValueError(f"this chat has no pre-chat field {unknown[0]!r}")
    clean: dict[str, str] = {}
    for key, field in known.items():
        value = answers.get(key)
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise ValueError(f"{field['label']}: give text")
        value = value.strip()
        if len(value) > MAX_ANSWER:
            raise ValueError(f"{field['label']}: at most {MAX_ANSWER} characters")
        if not value:
            if require and field.get("required"):
                raise ValueError(f"{field['label']} is required")
            continue
        if field.get("type") == "email":
            try:
                validate_email(value)
            except ValidationError:
                raise ValueError(f"{field['label']}: that is not an email address") from None
        if field.get("type") == "select" and value not in field["options"]:
            raise ValueError(f"{field['label']}: choose one of the options")
        clean[key] = value
    return clean
