"""The outbound guard: every server-side request goes to a checked address, within limits."""

import ipaddress
import socket
import time

import pytest

from config.outbound import (
    OutboundRefused,
    OutboundTimeout,
    OutboundTooLarge,
    address_refusal,
    fetch,
)
from tests.loopback import LoopbackServer


@pytest.fixture
def server():
    with LoopbackServer("127.0.0.1") as running:
        yield running


@pytest.fixture
def internal():
    """Another loopback service nobody allowed (an admin port, a metadata endpoint...)."""
    with LoopbackServer("127.0.0.2") as running:
        running.routes["/secret"] = lambda h: h.reply(200, b"internal")
        yield running


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "::127.0.0.1",
        "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::1",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    ],
)
def test_private_local_and_embedded_addresses_are_refused(address):
    assert address_refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address):
    assert address_refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/", "gopher://example.com/", "http://"]
)
def test_only_http_urls_are_fetched(settings, url):
    with pytest.raises(OutboundRefused):
        fetch("GET", url)


@pytest.mark.parametrize(
    "host", ["127.0.0.2", "localhost", "[::ffff:127.0.0.2]", "2130706434", "0x7f000002"]
)
def test_a_loopback_service_is_not_reached_however_its_address_is_written(settings, internal, host):
    settings.OUTBOUND_ALLOWED_HOSTS = []
    url = f"http://{host}:{internal.port}/secret"

    with pytest.raises(OutboundRefused) as refused:
        fetch("GET", url)

    assert "OUTBOUND_ALLOWED_HOSTS" in refused.value.reason
    assert internal.requests == []


def test_a_host_the_operator_allows_is_reached(settings, server):
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    server.routes["/ok"] = lambda h: h.reply(200, b'{"ok": true}')

    response = fetch("GET", f"{server.url}/ok")

    assert response.status_code == 200 and response.json() == {"ok": True}


def test_the_host_is_resolved_once_and_the_connection_goes_to_the_checked_address(
    settings, server, monkeypatch
):
    """A second DNS answer (rebinding) is never asked for: the request keeps its Host name but
    connects to the address that was checked."""
    settings.OUTBOUND_ALLOWED_HOSTS = ["service.test"]
    server.routes["/ok"] = lambda h: h.reply(200, b"pinned")
    real_getaddrinfo = socket.getaddrinfo
    asked = []

    def getaddrinfo(host, *args, **kwargs):
        if host == "service.test":
            asked.append(host)
            if len(asked) > 1:
                raise AssertionError("resolved a second time")
            return real_getaddrinfo("127.0.0.1", *args, **kwargs)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    response = fetch("GET", f"http://service.test:{server.port}/ok")

    assert response.content == b"pinned"
    assert asked == ["service.test"]
    assert server.requests[0]["headers"]["Host"] == f"service.test:{server.port}"


def test_calls_to_one_host_share_a_connection_but_never_a_cookie(settings, server):
    """The kept-alive client serves every tenant calling a provider: a cookie one answer sets must
    not ride along on the next call, which may be another tenant's."""
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    server.routes["/login"] = lambda h: h.reply(
        200, b"in", {"Set-Cookie": "session=tenant-a; Path=/"}
    )
    ports = []
    server.routes["/who"] = lambda h: (ports.append(h.client_address[1]), h.reply(200, b"me"))

    fetch("POST", f"{server.url}/login")
    fetch("GET", f"{server.url}/who")
    fetch("GET", f"{server.url}/who")

    assert all("Cookie" not in r["headers"] for r in server.requests[1:])
    assert len(set(ports)) == 1  # the second call came over the first one's connection


def test_a_connection_the_server_closed_is_replaced_without_an_error(settings):
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    with LoopbackServer("127.0.0.1") as first:
        first.routes["/ok"] = lambda h: h.reply(200, b"first", {"Connection": "close"})
        assert fetch("GET", f"{first.url}/ok").content == b"first"
        first.routes["/ok"] = lambda h: h.reply(200, b"again")
        assert fetch("GET", f"{first.url}/ok").content == b"again"


def test_a_redirect_to_a_refused_address_is_not_followed(settings, server, internal):
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    server.routes["/go"] = lambda h: h.reply(302, headers={"Location": f"{internal.url}/secret"})

    with pytest.raises(OutboundRefused):
        fetch("GET", f"{server.url}/go", follow_redirects=True)

    assert internal.requests == []


def test_redirects_are_followed_through_the_check_without_the_credentials(settings, server):
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    other = f"http://localhost:{server.port}"
    server.routes["/go"] = lambda h: h.reply(302, headers={"Location": f"{other}/there"})
    server.routes["/there"] = lambda h: h.reply(200, b"arrived")

    response = fetch("GET", f"{server.url}/go", auth=("sid", "token"), follow_redirects=True)

    assert response.content == b"arrived"
    first, second = server.requests
    assert first["headers"]["Authorization"].startswith("Basic ")
    assert "Authorization" not in second["headers"]


def test_an_answer_declaring_more_than_the_byte_limit_is_refused_unread(settings, server):
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    server.routes["/big"] = lambda h: h.reply(200, b"x" * 5000)

    with pytest.raises(OutboundTooLarge):
        fetch("GET", f"{server.url}/big", max_bytes=1000)


def _endless(handler):
    handler.send_response(200)
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    chunk = b"x" * 65536
    for _ in range(2000):  # 128 MiB if nobody stops reading
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))


def test_a_stream_without_length_is_cut_at_the_byte_limit(settings, server):
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    server.routes["/endless"] = _endless

    started = time.monotonic()
    with pytest.raises(OutboundTooLarge):
        fetch("GET", f"{server.url}/endless", max_bytes=1024 * 1024)

    assert time.monotonic() - started < 5


def _trickle(handler):
    handler.send_response(200)
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    for _ in range(100):  # 20 s in all, one byte at a time
        handler.wfile.write(b"1\r\nx\r\n")
        handler.wfile.flush()
        time.sleep(0.2)


def test_a_slow_trickle_is_cut_at_the_time_limit(settings, server):
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.OUTBOUND_TIMEOUT_SECONDS = 1
    server.routes["/slow"] = _trickle

    started = time.monotonic()
    with pytest.raises(OutboundTimeout):
        fetch("GET", f"{server.url}/slow")

    assert time.monotonic() - started < 3
