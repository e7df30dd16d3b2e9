"""Live chat in real headless Chromium against a real ASGI server: a visitor on the demo page
(phone viewport) opens the widget, fills the pre-chat form (with an extra field the agent then sees
as a variable) and writes; the message runs the shipped chat flow into the Chat queue with the chat
RONA timeout; an agent accepts and replies; the visitor attaches a file the agent sees; the visitor
sees the reply live, and a reload keeps the conversation. With no one available the widget offers
to leave a message. A page on another site can neither load the widget nor connect."""

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from playwright.sync_api import expect

from channels_app import services
from channels_app.livechat.limits import limits_reset
from channels_app.models import Conversation
from routing.flows.models import AuthorizableNode
from routing.flows.services import flow_import_template, node_authorization_authorize
from routing.models import EntryPoint, Offer
from tenants.models import TenantPolicy
from tests.e2e.conftest import (  # noqa: F401 - the browser tests' fixtures
    _orm_beside_playwright,
    browser,
    live,
    page_for,
)
from tests.routing.factories import make_agent, make_queue, make_team

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _fresh_limits():
    limits_reset()
    yield
    limits_reset()


@pytest.fixture
def chat_asset(tenant):
    asset = services.channel_asset_create(tenant=tenant, kind="chat", name="Website chat")
    for node in (AuthorizableNode.TASK, AuthorizableNode.ENGAGE):
        node_authorization_authorize(tenant=tenant, node=node, user=None)
    EntryPoint.objects.create(
        tenant=tenant,
        name="Chat entry",
        channel_type="chat",
        asset=asset,
        flow=flow_import_template(tenant=tenant, template_name="chat_inbound"),
    )
    TenantPolicy.objects.update_or_create(tenant=tenant, defaults={"rona_chat_seconds": 30})
    asset.chat_widget.prechat_fields = [
        {"label": "Order number", "key": "order_number", "type": "text", "required": True}
    ]
    asset.chat_widget.save()
    return asset


def test_a_visitor_chats_with_an_agent_from_the_demo_page_on_a_phone(
    tenant,
    chat_asset,
    browser,  # noqa: F811
    live,  # noqa: F811
    page_for,  # noqa: F811
):
    team = make_team(tenant=tenant, name="Chat team", max_chat=2)
    make_queue(tenant=tenant, teams=[team], name="Chat", channel_type="chat")
    agent = make_agent(tenant=tenant, team=team, name="Alex")
    desk = page_for(agent.user)
    desk.select_option("#state-select", "available")
    expect(desk.locator("#state-badge")).to_have_text("available")

    visitor = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    errors = []
    visitor.on("console", lambda m: m.type == "error" and errors.append(m.text))
    visitor.goto(f"{live.url}/livechat/demo/")
    launcher = visitor.locator("button.launcher")
    expect(launcher).to_be_visible()
    assert visitor.evaluate("innerWidth") == PHONE["width"]  # nothing overflows the phone
    box = launcher.bounding_box()
    assert box["x"] > PHONE["width"] / 2 and box["y"] > PHONE["height"] / 2  # bottom right
    launcher.click()
    visitor.fill(".prechat input[name=name]", "Dana")
    visitor.click(".prechat button[type=submit]")
    # The extra field is required: the browser keeps the form open until it is filled.
    expect(visitor.locator(".prechat")).to_be_visible()
    visitor.fill(".prechat input[name='field:order_number']", "A-1001")
    visitor.click(".prechat button[type=submit]")
    visitor.fill(".compose textarea", "Hello, where is my parcel?")
    visitor.keyboard.press("Enter")
    expect(visitor.locator(".msg.in", has_text="Hello, where is my parcel?")).to_be_visible()
    # The shipped chat flow asks for the language, then greets by the pre-chat form's name.
    expect(visitor.locator(".msg.out", has_text="Which language")).to_be_visible(timeout=15000)
    visitor.fill(".compose textarea", "1")
    visitor.keyboard.press("Enter")
    expect(visitor.locator(".msg.out", has_text="Hi Dana")).to_be_visible(timeout=15000)

    offer = desk.locator(".offer")
    expect(offer).to_be_visible(timeout=15000)
    routed = Offer.objects.get()
    assert routed.channel_type == "chat" and routed.task.queue.name == "Chat"
    assert (routed.expires_at - routed.created_at).total_seconds() == 30  # the chat RONA
    offer.locator("button.accept").click()
    transcript = desk.locator("#transcript")
    expect(transcript).to_contain_text("Hello, where is my parcel?")
    expect(visitor.locator(".note", has_text="Alex joined the chat")).to_be_visible()
    expect(desk.locator("#variables label", has_text="Order number")).to_contain_text("A-1001")
    visitor.locator(".compose textarea").press_sequentially("Thanks")
    expect(desk.locator(".conversation-head .typing-hint")).to_have_text("typing…")
    desk.locator("#composer textarea").press_sequentially("It left")
    expect(visitor.locator(".typing")).to_have_text("Alex is typing…")
    desk.locator("#composer textarea").press_sequentially(" the warehouse today.")
    desk.keyboard.press("Enter")

    expect(visitor.locator(".msg.out", has_text="It left the warehouse today.")).to_be_visible()
    expect(visitor.locator(".msg.out", has_text="It left the warehouse today.")).to_contain_text(
        "Alex"
    )
    assert Conversation.objects.get().customer.display_name == "Dana"
    assert Conversation.objects.get().variables["order_number"] == "A-1001"

    visitor.locator(".compose input[type=file]").set_input_files(
        {"name": "parcel.png", "mimeType": "image/png", "buffer": PNG}
    )
    expect(visitor.locator(".msg.in .file", has_text="parcel.png")).to_be_visible()
    # Scanned clean by clamd, the agent sees the picture.
    expect(transcript.locator("img[alt='parcel.png']")).to_be_visible(timeout=15000)

    visitor.reload()
    visitor.locator("button.launcher").click()
    expect(visitor.locator(".msg.in", has_text="Hello, where is my parcel?")).to_be_visible()
    expect(visitor.locator(".msg.out", has_text="It left the warehouse today.")).to_be_visible()
    assert Conversation.objects.count() == 1
    assert errors == []
    visitor.context.close()


def test_with_no_one_available_a_visitor_leaves_a_message_on_a_phone(
    tenant,
    chat_asset,
    browser,  # noqa: F811
    live,  # noqa: F811
):
    make_queue(tenant=tenant, teams=[make_team(tenant=tenant)], name="Chat", channel_type="chat")
    visitor = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    errors = []
    visitor.on("pageerror", lambda e: errors.append(str(e)))
    visitor.goto(f"{live.url}/livechat/demo/")
    visitor.locator("button.launcher").click()

    form = visitor.locator(".offline")
    expect(form).to_be_visible()
    expect(visitor.locator(".note", has_text="No one is available")).to_be_visible()
    assert visitor.locator(".compose").is_hidden() and visitor.locator(".prechat").is_hidden()
    form.locator("input[name=name]").fill("Dana")
    form.locator("input[name=email]").fill("dana@example.com")
    form.locator("input[name='field:order_number']").fill("A-7")
    form.locator("textarea[name=text]").fill("Please call me back.")
    form.locator("button[type=submit]").click()

    expect(visitor.locator(".note", has_text="answer by email at dana@example.com")).to_be_visible()
    expect(visitor.locator(".msg.in", has_text="Please call me back.")).to_be_visible()
    conversation = Conversation.objects.get()
    assert conversation.variables["visitor_email"] == "dana@example.com"
    assert conversation.variables["order_number"] == "A-7"
    assert errors == []
    visitor.context.close()

    # Set to hide while no one is there: a new visitor sees no launcher at all.
    widget = chat_asset.chat_widget
    widget.offline_behaviour = "hide"
    widget.save()
    newcomer = browser.new_context(viewport=PHONE, is_mobile=True).new_page()
    newcomer.goto(f"{live.url}/livechat/demo/")
    newcomer.wait_for_function(
        "() => document.querySelector('[data-livechat]').shadowRoot.querySelector('#lc-title').textContent"
    )
    expect(newcomer.locator("button.launcher")).to_be_hidden()
    newcomer.context.close()


def test_a_page_on_another_site_can_neither_load_nor_connect(
    chat_asset,
    browser,  # noqa: F811
    live,  # noqa: F811
):
    widget = chat_asset.chat_widget
    shop = f'<!doctype html><p>Shop</p><script src="{live.url}/livechat/{widget.widget_id}/widget.js"></script>'

    class Shop(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(shop.encode())

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Shop)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    context = browser.new_context()
    page = context.new_page()
    statuses = {}
    page.on("response", lambda r: statuses.setdefault(r.url.rsplit("/", 1)[-1], r.status))
    page.goto(f"http://127.0.0.1:{server.server_port}/")
    page.wait_for_function("() => document.readyState === 'complete'")
    assert statuses.get("widget.js") == 403
    closed = page.evaluate(
        """(url) => new Promise((resolve) => {
            const socket = new WebSocket(url);
            socket.onclose = (e) => resolve(e.code);
        })""",
        f"{live.url.replace('http', 'ws')}/ws/livechat/{widget.widget_id}/?token=x",
    )
    status = page.evaluate(
        """(url) => fetch(url, {method: "POST", body: "{}"}).then((r) => r.status, () => "blocked")""",
        f"{live.url}/livechat/{widget.widget_id}/session",
    )
    assert page.locator("button.launcher").count() == 0
    assert closed == 4403
    assert status == "blocked"  # no CORS answer for this origin: the browser withholds it
    context.close()
    server.shutdown()
