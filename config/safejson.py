"""JSON from outside (webhooks, websocket frames) parsed with limits: a bounded nesting depth and
no NaN / Infinity, which are not JSON and which PostgreSQL's jsonb refuses.

Python's parser recurses per nesting level, so a body of a few hundred thousand brackets would
end in a RecursionError (a 500, a dropped socket) instead of a clear refusal."""

import json
from typing import Any

MAX_DEPTH = 64


class UnsafeJSON(ValueError):
    """The text is not JSON we accept; the message says why."""


def _refuse_constant(name: str) -> Any:
    raise UnsafeJSON(f"{name} is not a JSON number")


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise UnsafeJSON(f"nested deeper than {max_depth} levels") from None
    except UnsafeJSON:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnsafeJSON(str(exc)) from None
    _check_depth(value, max_depth)
    return value


def _check_depth(value: Any, max_depth: int) -> None:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            raise UnsafeJSON(f"nested deeper than {max_depth} levels")
        stack.extend((child, depth + 1) for child in children)
