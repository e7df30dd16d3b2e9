"""Invitation tokens never reach a log: not uvicorn's access log, not Django's request log."""

import logging
import socket
import threading
import time

import httpx
import pytest
import uvicorn

from tenants import services
from tenants.roles import AdminRole


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def captured():
    handler = Capture()
    loggers = [logging.getLogger(name) for name in ("uvicorn.access", "django.request")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler.lines
    for logger in loggers:
        logger.removeHandler(handler)


@pytest.fixture
def server(transactional_db):
    from config.asgi import application

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(
        application, host="127.0.0.1", port=port, log_level="info", lifespan="off"
    )
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not instance.started:
        assert time.monotonic() < deadline, "the ASGI server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


def test_invitation_links_are_masked_in_the_access_log_and_the_request_log(
    server, tenant, owner, captured
):
    invitation = services.invitation_create(
        tenant=tenant, email="dana@example.test", invited_by=owner, admin_role=AdminRole.READ_ONLY
    )

    ok = httpx.get(f"{server}/invitations/{invitation.token}/", timeout=10)
    unknown = httpx.get(f"{server}/invitations/guessed-Token_123/?token=abc", timeout=10)
    time.sleep(0.2)  # the access log line is written after the response

    assert ok.status_code == 200 and unknown.status_code == 404
    text = "\n".join(captured)
    assert "/invitations/[masked]/" in text
    assert "Not Found: /invitations/[masked]/" in text
    assert invitation.token not in text
    assert "guessed-Token_123" not in text
    assert "token=abc" not in text


def test_the_console_handler_masks_what_other_loggers_propagate(tenant):
    from config.logmask import MaskSecretsFilter

    record = logging.LogRecord(
        "tenants", logging.INFO, __file__, 1, "mail sent with %s", ("/invitations/s3cr3t/",), None
    )
    console = logging.getLogger().handlers
    assert any(isinstance(f, MaskSecretsFilter) for handler in console for f in handler.filters)
    MaskSecretsFilter().filter(record)
    assert record.getMessage() == "mail sent with /invitations/[masked]/"
