"""Outbound HTTP shared by the transports: the guarded fetch, and one rule for what is worth
retrying."""

from collections.abc import Callable

from channels_app.providers.base import PermanentSendError, TransientSendError
from config.outbound import OutboundError, OutboundResponse, fetch

TIMEOUT_SECONDS = 10.0


def call(
    method: str,
    url: str,
    *,
    reason: Callable[[OutboundResponse], str],
    max_bytes: int | None = None,
    timeout: float = TIMEOUT_SECONDS,
    **kwargs,
) -> OutboundResponse:
    """One request; 429, 5xx, timeouts and connection errors are transient, other 4xx permanent,
    and so are refused addresses and answers over the byte limit."""
    try:
        response = fetch(method, url, max_bytes=max_bytes, timeout=timeout, **kwargs)
    except OutboundError as exc:
        error = TransientSendError if exc.transient else PermanentSendError
        raise error(f"provider request: {exc.reason}") from exc
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientSendError(_reason(response, reason), status_code=response.status_code)
    if response.status_code >= 400:
        raise PermanentSendError(_reason(response, reason), status_code=response.status_code)
    return response


def _reason(response: OutboundResponse, reason: Callable[[OutboundResponse], str]) -> str:
    try:
        text = reason(response)
    except (ValueError, KeyError, TypeError, AttributeError):
        text = response.text[:500]
    return f"HTTP {response.status_code}: {text}"
