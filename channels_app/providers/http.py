"""Outbound HTTP shared by the transports: httpx, and one rule for what is worth retrying."""

from collections.abc import Callable

import httpx

from channels_app.providers.base import PermanentSendError, TransientSendError

TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def call(
    method: str, url: str, *, reason: Callable[[httpx.Response], str], **kwargs
) -> httpx.Response:
    """One request; 429, 5xx, timeouts and connection errors are transient, other 4xx permanent."""
    try:
        response = httpx.request(method, url, timeout=TIMEOUT, **kwargs)
    except httpx.TimeoutException as exc:
        raise TransientSendError(f"provider timed out: {type(exc).__name__}") from exc
    except httpx.TransportError as exc:
        raise TransientSendError(f"provider unreachable: {type(exc).__name__}") from exc
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientSendError(_reason(response, reason), status_code=response.status_code)
    if response.status_code >= 400:
        raise PermanentSendError(_reason(response, reason), status_code=response.status_code)
    return response


def _reason(response: httpx.Response, reason: Callable[[httpx.Response], str]) -> str:
    try:
        text = reason(response)
    except (ValueError, KeyError, TypeError, AttributeError):
        text = response.text[:500]
    return f"HTTP {response.status_code}: {text}"
