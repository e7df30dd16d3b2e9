"""Browser tests: a real ASGI server (uvicorn, in a thread of the test process, on the test
database and Redis) and Debian's headless Chromium driven by Playwright."""

import os
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from django.conf import settings

from channels_app.models import ChannelKind
from routing.flows.models import AuthorizableNode
from routing.flows.services import flow_import_template, node_authorization_authorize
from routing.models import EntryPoint
from tenants.models import WrapUpCode
from tests.channels_app.conftest import _fake_provider_server, fake_provider  # noqa: F401
from tests.factories import ChannelAssetFactory
from tests.routing.factories import make_agent, make_queue, make_team

PASSWORD = "correct horse battery"
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """uvicorn serving config.asgi in a thread; stop() and start() again on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        from config.asgi import application

        config = uvicorn.Config(
            application,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="live-asgi", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the ASGI server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
            self.server.force_exit = True
            self.thread.join(timeout=10)
            self.server = None


class Sweeper:
    """The periodic sweeps (RONA, relaxation), as Celery beat would run them, every 0.5 s."""

    def __init__(self) -> None:
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="sweeper", daemon=True)

    def _loop(self) -> None:
        from django.db import close_old_connections

        from routing.services import timers_sweep

        while not self.stop_event.wait(0.5):
            try:
                timers_sweep()
            finally:
                close_old_connections()

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=10)


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch):
    # Playwright's sync API keeps an event loop in this thread; the ORM calls these tests make
    # between browser steps are still plain synchronous code. Only for the browser tests.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def live(transactional_db):
    server = LiveServer()
    server.start()
    sweeper = Sweeper()
    sweeper.start()
    yield server
    sweeper.stop()
    server.stop()


@pytest.fixture(scope="module")
def browser():
    # Module scope: Playwright's sync API holds an event loop in this thread while it runs, which
    # the async tests of other modules must not find.
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium is missing at {CHROMIUM}: run the README's test command, which installs it"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page_for(browser, live):
    """A signed-in desktop page for a user, in a fresh browser context."""
    contexts = []

    def open_desktop(user):
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        contexts.append(context)
        page = context.new_page()
        page.goto(f"{live.url}/accounts/login/?next=/desktop/")
        page.fill("input[name=username]", user.email)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live.url}/desktop/")
        page.wait_for_selector("#connection.online")
        return page

    yield open_desktop
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def post_webhook(signed) -> httpx.Response:
    return httpx.post(signed.url, content=signed.body, headers=signed.headers, timeout=10)


@pytest.fixture
def contact_center(tenant, live, fake_provider):  # noqa: F811
    """Acme as a newcomer would set it up: a WhatsApp asset with its entry point running the shipped
    WhatsApp inbound flow into the Support queue, a team of two agents and wrap-up codes."""
    asset = ChannelAssetFactory(
        tenant=tenant,
        kind=ChannelKind.WHATSAPP,
        name="Acme WhatsApp",
        wa_phone_number_id="106540352242922",
        wa_business_account_id="102290129340398",
        api_base_url=f"{fake_provider.base_url}/whatsapp",
    )
    for node in (AuthorizableNode.TASK, AuthorizableNode.ENGAGE):
        node_authorization_authorize(tenant=tenant, node=node, user=None)
    flow = flow_import_template(tenant=tenant, template_name="whatsapp_inbound")
    EntryPoint.objects.create(
        tenant=tenant,
        name="WhatsApp entry",
        channel_type="social",
        social_channel_type="whatsapp",
        asset=asset,
        flow=flow,
    )
    team = make_team(tenant=tenant, name="Support team", max_social=2)
    queue = make_queue(tenant=tenant, teams=[team], name="Support", channel_type="social")
    first = make_agent(tenant=tenant, team=team, name="Alex")
    second = make_agent(tenant=tenant, team=team, name="Billie")
    for code in ("Resolved", "Follow-up needed"):
        WrapUpCode.objects.create(tenant=tenant, name=code)

    class ContactCenter:
        pass

    cc = ContactCenter()
    cc.tenant, cc.asset, cc.queue, cc.first, cc.second, cc.flow = (
        tenant,
        asset,
        queue,
        first,
        second,
        flow,
    )
    return cc
