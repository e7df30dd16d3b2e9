"""The one way the server makes HTTP requests on its own: flows' HTTP nodes, media downloads and
provider API calls all go through `fetch`.

URLs come from tenants (flow nodes, an asset's API base URL) and from customers' webhooks (media
URLs), so every request is checked where it really goes:
- the host is resolved once; every address it resolves to must be public, and the connection goes
  to that checked address (the URL is rewritten to the IP, the Host header and TLS SNI/certificate
  check keep the name), so a second DNS answer cannot point somewhere else;
- private, loopback, link-local, multicast, reserved and unspecified addresses are refused, and so
  are IPv6 forms that embed an IPv4 address (IPv4-mapped/compatible, NAT64, 6to4, Teredo);
- redirects are followed by hand, each hop through the same check;
- the body is streamed and cut at a byte limit, the whole exchange at a time limit.
Hosts named in OUTBOUND_ALLOWED_HOSTS skip the address check (the operator's own services, the
embedded demo's sandbox provider); they are still pinned to the address resolved once.
"""

from __future__ import annotations

import base64
import functools
import http.cookiejar
import ipaddress
import json as jsonlib
import os
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import httpx
from django.conf import settings

REDIRECT_STATUSES = {301, 302, 303, 307, 308}
MAX_REDIRECTS = 5

# Ranges `ipaddress` may still call global, or that hide an IPv4 address inside IPv6.
_EMBEDDING_NETWORKS = {
    ipaddress.ip_network("64:ff9b::/96"): "a NAT64 address",
    ipaddress.ip_network("64:ff9b:1::/48"): "a NAT64 address",
    ipaddress.ip_network("2002::/16"): "a 6to4 address",
    ipaddress.ip_network("2001::/32"): "a Teredo address",
    ipaddress.ip_network("::/96"): "an IPv4-compatible address",
}
_REFUSED_V4_NETWORKS = {
    ipaddress.ip_network("100.64.0.0/10"): "a shared (carrier-grade NAT) address",
    ipaddress.ip_network("0.0.0.0/8"): "a 'this network' address",
}


class OutboundError(Exception):
    """A request that did not give an answer; `reason` says why, for logs and the admin."""

    transient = False

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class OutboundRefused(OutboundError):
    """The URL or where it leads is not allowed (scheme, address, redirect target)."""


class OutboundTooLarge(OutboundError):
    """The answer is bigger than the byte limit."""


class OutboundTimeout(OutboundError):
    transient = True


class OutboundUnreachable(OutboundError):
    """DNS or connection failure, or a broken answer: worth another try later."""

    transient = True


@dataclass
class OutboundResponse:
    status_code: int
    headers: httpx.Headers
    content: bytes
    url: str

    @property
    def text(self) -> str:
        return self.content.decode(_charset(self.headers), "replace")

    def json(self) -> Any:
        return jsonlib.loads(self.content)


def _charset(headers: httpx.Headers) -> str:
    for part in headers.get("content-type", "").split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            try:
                "".encode(value.strip('"'))
                return value.strip('"')
            except LookupError:
                break
    return "utf-8"


def address_refusal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why the server may not connect to this address, or None for a public unicast one."""
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return "an IPv4-mapped address"
        for network, what in _EMBEDDING_NETWORKS.items():
            if address in network:
                return what
    else:
        for network, what in _REFUSED_V4_NETWORKS.items():
            if address in network:
                return what
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_private:
        return "a private address"
    if address.is_reserved or not address.is_global:
        return "a reserved address"
    return None


def _allowed_hosts() -> set[str]:
    return {host.strip().lower().strip("[]") for host in settings.OUTBOUND_ALLOWED_HOSTS}


def _resolve(host: str, port: int) -> str:
    """The one address to connect to, after checking every address the host resolves to."""
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise OutboundUnreachable(f"{host} does not resolve") from None
        addresses = []
        for info in infos:
            address = ipaddress.ip_address(info[4][0].split("%")[0])
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise OutboundUnreachable(f"{host} does not resolve")
    if host.lower() not in _allowed_hosts():
        for address in addresses:
            refusal = address_refusal(address)
            if refusal:
                raise OutboundRefused(
                    f"{host} is {refusal} ({address}); an operator can allow the host "
                    "with OUTBOUND_ALLOWED_HOSTS"
                )
    return str(addresses[0])


def _pinned(url: str) -> tuple[httpx.URL, str, str]:
    """The URL rewritten to the checked address, the Host header value and the TLS name."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise OutboundRefused(f"{url!r} is not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise OutboundRefused(f"{url!r} is not an http(s) URL")
    if parsed.userinfo:
        raise OutboundRefused("URLs with credentials in them are not allowed")
    host = parsed.host
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    address = _resolve(host, port)
    host_header = host if "%" not in host else host.split("%")[0]
    if ":" in host_header:
        host_header = f"[{host_header}]"
    if parsed.port is not None:
        host_header = f"{host_header}:{parsed.port}"
    return parsed.copy_with(host=address), host_header, host


def _read_limited(response: httpx.Response, *, max_bytes: int, deadline: float, url: str) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise OutboundTooLarge(f"the answer has {int(declared)} bytes, more than {max_bytes}")
    chunks: list[bytes] = []
    received = 0
    for chunk in response.iter_bytes():
        received += len(chunk)
        if received > max_bytes:
            raise OutboundTooLarge(f"the answer has more than {max_bytes} bytes")
        if time.monotonic() > deadline:
            raise OutboundTimeout("the answer took longer than the time limit")
        chunks.append(chunk)
    return b"".join(chunks)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """Loading the CA bundle costs ~20 ms; one context per process serves every request."""
    return httpx.create_ssl_context()


# Kept-alive connections per TLS name: a provider's API is called for every message, and a new
# client per call paid for the TCP (and TLS) handshake each time. Keyed by the name the
# certificate is checked against, because the pool itself is keyed by the pinned address, which
# several names may share. Rebuilt after a fork: sockets are not shared with a parent.
MAX_CLIENTS = 64
_clients: dict[str, httpx.Client] = {}
_clients_pid: int | None = None
_clients_lock = threading.Lock()


def _client(tls_name: str) -> httpx.Client:
    global _clients_pid
    key = tls_name.lower()
    with _clients_lock:
        if _clients_pid != os.getpid():
            _clients.clear()
            _clients_pid = os.getpid()
        client = _clients.get(key)
        if client is None:
            if len(_clients) >= MAX_CLIENTS:
                # The oldest goes; a request still using it finishes, its sockets close with it.
                _clients.pop(next(iter(_clients)))
            client = httpx.Client(
                verify=_tls_context(),
                follow_redirects=False,
                trust_env=False,
                limits=httpx.Limits(max_keepalive_connections=8, keepalive_expiry=30),
                # Shared by every tenant calling this host: it must never keep a cookie.
                cookies=http.cookiejar.CookieJar(
                    policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[])
                ),
            )
            _clients[key] = client
        return client


def fetch(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    json: Any = None,
    data: dict[str, str] | None = None,
    files: dict[str, tuple[str, bytes, str]] | None = None,
    content: bytes | None = None,
    auth: tuple[str, str] | None = None,
    follow_redirects: bool = False,
    max_bytes: int | None = None,
    timeout: float | None = None,
) -> OutboundResponse:
    """One checked request. Raises OutboundRefused / OutboundTooLarge / OutboundTimeout /
    OutboundUnreachable (all OutboundError with a `reason`)."""
    max_bytes = settings.OUTBOUND_MAX_BYTES if max_bytes is None else max_bytes
    limit = float(settings.OUTBOUND_TIMEOUT_SECONDS)
    timeout = limit if timeout is None else min(timeout, limit)
    deadline = time.monotonic() + timeout
    method = method.upper()
    headers = dict(headers or {})
    origin = None
    for _hop in range(MAX_REDIRECTS + 1):
        target, host_header, tls_name = _pinned(url)
        client = _client(tls_name)
        current_origin = (target.scheme, tls_name.lower(), target.port)
        if origin is not None and current_origin != origin:
            # Credentials meant for one host do not follow a redirect to another.
            auth = None
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        origin = current_origin
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise OutboundTimeout(f"timed out after {timeout:g} s")
        request = client.build_request(
            method,
            target,
            headers={**headers, "Host": host_header},
            params=params,
            json=json,
            data=data,
            files=files,
            content=content,
            timeout=httpx.Timeout(remaining),
            extensions={"sni_hostname": tls_name},
        )
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            request.headers["Authorization"] = f"Basic {token}"
        try:
            response = client.send(request, stream=True)
        except httpx.TimeoutException:
            raise OutboundTimeout(f"timed out after {timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise OutboundUnreachable(f"failed: {type(exc).__name__}: {exc}") from None
        try:
            location = response.headers.get("location")
            if follow_redirects and response.status_code in REDIRECT_STATUSES and location:
                url, params = urljoin(url, location), None
                if response.status_code == 303 or (
                    response.status_code in (301, 302) and method == "POST"
                ):
                    method, json, data, files, content = "GET", None, None, None, None
                continue
            try:
                body = _read_limited(response, max_bytes=max_bytes, deadline=deadline, url=url)
            except httpx.TimeoutException:
                raise OutboundTimeout(f"timed out after {timeout:g} s") from None
            except httpx.HTTPError as exc:
                raise OutboundUnreachable(f"failed: {type(exc).__name__}: {exc}") from None
            return OutboundResponse(
                status_code=response.status_code,
                headers=response.headers,
                content=body,
                url=url,
            )
        finally:
            response.close()
    raise OutboundRefused(f"more than {MAX_REDIRECTS} redirects")
