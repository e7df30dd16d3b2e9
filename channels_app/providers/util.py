import hashlib
import json
import math
from datetime import UTC, datetime
from typing import Any

from channels_app.providers.base import MalformedEvent
from config import safejson


def body_hash(body: str | bytes) -> str:
    raw = body.encode() if isinstance(body, str) else body
    return hashlib.sha256(raw).hexdigest()[:40]


def load_json(body: str | bytes) -> Any:
    try:
        return safejson.loads(body)
    except safejson.UnsafeJSON as exc:
        raise MalformedEvent(f"body is not JSON: {exc}") from exc


def coordinate(value: Any, *, limit: float, where: str) -> float:
    """A latitude (limit 90) or longitude (limit 180): a finite number in range."""
    if isinstance(value, bool):
        raise MalformedEvent(f"{where}: {value!r} is not a coordinate")
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise MalformedEvent(f"{where}: {value!r} is not a coordinate") from exc
    if not math.isfinite(number) or abs(number) > limit:
        raise MalformedEvent(f"{where}: {value!r} is not a coordinate within ±{limit:g}")
    return number


def dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def from_unix(value: Any, *, millis: bool = False) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise MalformedEvent(f"timestamp {value!r} is not a number") from exc
    return datetime.fromtimestamp(number / 1000 if millis else number, tz=UTC)


def require(mapping: Any, key: str, where: str) -> Any:
    if not isinstance(mapping, dict) or mapping.get(key) in (None, ""):
        raise MalformedEvent(f"{where}: missing {key}")
    return mapping[key]


def require_list(mapping: Any, key: str, where: str) -> list:
    value = require(mapping, key, where) if isinstance(mapping, dict) and key in mapping else None
    if not isinstance(value, list):
        raise MalformedEvent(f"{where}: {key} must be a list")
    return value
