"""Live chat, the visitor's side: tokens, origins, identity verification, abuse limits, messages
stored once, transcripts, and the visitor socket (an agent's reply reaches it live)."""

import sys

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core import mail

from channels_app import services
from channels_app.livechat import consumers
from channels_app.livechat import services as livechat
from channels_app.livechat.limits import limits_reset
from channels_app.models import ChatWidget, Conversation, Message
from channels_app.services.outbound import message_send
from tests.tenants.test_admin_login import sign_in

ORIGIN = "https://shop.example"
HOST = "testserver"


@pytest.fixture
def widget(tenant) -> ChatWidget:
    asset = services.channel_asset_create(tenant=tenant, kind="chat", name="Website chat")
    widget = asset.chat_widget
    widget.allowed_origins = f"{ORIGIN}\n"
    widget.identity_secret = "site-secret"
    widget.save()
    return widget


@pytest.fixture
def other_widget(other_tenant) -> ChatWidget:
    asset = services.channel_asset_create(tenant=other_tenant, kind="chat", name="Globex chat")
    return asset.chat_widget


def url(widget: ChatWidget, what: str) -> str:
    return f"/livechat/{widget.widget_id}/{what}"


_capture = None


@pytest.fixture(autouse=True)
def _fresh_limits():
    """The abuse limits count in Redis, shared by every process: each test starts with none."""
    limits_reset()
    yield
    limits_reset()


@pytest.fixture(autouse=True)
def _run_after_commit(django_capture_on_commit_callbacks, monkeypatch):
    """Processing is queued after commit: the requests below run it before they return."""
    monkeypatch.setattr(sys.modules[__name__], "_capture", django_capture_on_commit_callbacks)


def post(client, widget, what, body, origin=ORIGIN):
    with _capture(execute=True):
        return client.post(
            url(widget, what), body, content_type="application/json", headers={"Origin": origin}
        )


def session(client, widget, **body) -> dict:
    response = post(client, widget, "session", body)
    assert response.status_code == 200, response.content
    return response.json()


def test_a_chat_asset_is_created_through_the_api_with_its_widget(api_as, owner, tenant):
    response = api_as(owner).post(
        "/api/v1/channel-assets/",
        {"tenant": tenant.pk, "kind": "chat", "name": "Website chat"},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert ChatWidget.objects.get().asset.name == "Website chat"


def test_a_reload_continues_the_same_visitor_and_conversation(client, widget):
    first = session(client, widget)
    post(client, widget, "messages", {"token": first["token"], "client_id": "c1", "text": "Hi"})

    again = session(client, widget, token=first["token"])

    assert again["visitor"] == first["visitor"]
    assert [m["text"] for m in again["messages"]][:1] == ["Hi"]
    assert again["widget"]["title"] == widget.title


def test_a_message_is_stored_once_for_its_client_id(client, widget):
    token = session(client, widget)["token"]

    first = post(client, widget, "messages", {"token": token, "client_id": "abc", "text": "Hello"})
    second = post(client, widget, "messages", {"token": token, "client_id": "abc", "text": "Hello"})

    assert first.status_code == second.status_code == 200
    assert first.json()["client_id"] == second.json()["client_id"] == "abc"
    assert second.json()["id"] == Message.objects.get(direction="in").pk
    assert Message.objects.filter(direction="in").count() == 1
    conversation = Conversation.objects.get()
    assert conversation.kind == "chat" and conversation.tenant == widget.asset.tenant


def test_a_forged_token_is_refused(client, widget):
    token = session(client, widget)["token"]

    response = post(
        client, widget, "messages", {"token": token[:-2] + "xx", "client_id": "a", "text": "x"}
    )
    history = client.get(url(widget, "messages"), {"token": "forged"}, headers={"Origin": ORIGIN})

    assert response.status_code == 403 and "invalid visitor token" in response.json()["error"]
    assert history.status_code == 403
    assert not Message.objects.exists()


def test_an_outsiders_token_does_not_open_this_widget(client, widget, other_widget):
    own = "http://testserver"
    outsider = post(client, other_widget, "session", {}, origin=own).json()

    response = post(
        client, widget, "messages", {"token": outsider["token"], "client_id": "a", "text": "x"}
    )
    history = client.get(
        url(widget, "messages"), {"token": outsider["token"]}, headers={"Origin": ORIGIN}
    )

    assert response.status_code == 403 and "another widget" in response.json()["error"]
    assert history.status_code == 403


def test_a_disallowed_origin_can_neither_load_nor_talk(client, widget):
    script = client.get(url(widget, "widget.js"), headers={"Referer": "https://evil.example/page"})
    allowed_script = client.get(url(widget, "widget.js"), headers={"Referer": f"{ORIGIN}/shop"})
    refused = post(client, widget, "session", {}, origin="https://evil.example")
    no_origin = client.post(url(widget, "session"), {}, content_type="application/json")
    preflight = client.options(url(widget, "session"), headers={"Origin": ORIGIN})

    assert script.status_code == 403
    assert allowed_script.status_code == 200 and b"attachShadow" in allowed_script.content
    assert refused.status_code == 403 and "not allowed" in refused.json()["error"]
    assert no_origin.status_code == 403
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == ORIGIN


def test_an_unknown_widget_is_a_404(client, widget):
    response = client.post(
        "/livechat/00000000-0000-0000-0000-000000000000/session",
        {},
        content_type="application/json",
        headers={"Origin": ORIGIN},
    )
    assert response.status_code == 404


def test_a_verified_visitor_sees_their_history_on_another_device(client, widget):
    signature = livechat.identity_signature(secret="site-secret", user_id="customer-42")
    laptop = session(client, widget, user_id="customer-42", user_signature=signature)
    post(
        client, widget, "messages", {"token": laptop["token"], "client_id": "c1", "text": "Order 7"}
    )
    Conversation.objects.update(status=Conversation.Status.CLOSED)

    phone = session(client, widget, user_id="customer-42", user_signature=signature)

    assert phone["visitor"] == laptop["visitor"] and phone["visitor"].startswith("u-")
    assert [m["text"] for m in phone["messages"]][:1] == ["Order 7"]


def test_a_forged_identity_signature_is_refused(client, widget):
    signature = livechat.identity_signature(secret="not-the-secret", user_id="customer-42")

    response = post(
        client, widget, "session", {"user_id": "customer-42", "user_signature": signature}
    )

    assert response.status_code == 403 and "signature" in response.json()["error"]


def test_too_many_messages_get_a_clear_429(client, widget, settings):
    settings.LIVECHAT_RATE_LIMITS = {"message_visitor": (2, 60)}
    token = session(client, widget)["token"]

    codes = [
        post(
            client, widget, "messages", {"token": token, "client_id": f"c{i}", "text": "spam"}
        ).status_code
        for i in range(3)
    ]
    last = post(client, widget, "messages", {"token": token, "client_id": "c9", "text": "spam"})

    assert codes == [200, 200, 429]
    assert "too fast" in last.json()["error"]
    assert Message.objects.filter(direction="in").count() == 2


def test_too_many_new_visitors_from_one_address_get_a_429(client, widget, settings):
    settings.LIVECHAT_RATE_LIMITS = {"session_ip": (1, 60)}
    session(client, widget)

    response = post(client, widget, "session", {})

    assert response.status_code == 429 and "too many new chats" in response.json()["error"]


def test_an_oversized_or_empty_message_is_refused_with_the_reason(client, widget):
    token = session(client, widget)["token"]

    big = post(client, widget, "messages", {"token": token, "client_id": "a", "text": "x" * 2001})
    empty = post(client, widget, "messages", {"token": token, "client_id": "b", "text": "  "})
    not_json = client.post(
        url(widget, "messages"), "{", content_type="application/json", headers={"Origin": ORIGIN}
    )

    assert big.status_code == 413 and "2000" in big.json()["error"]
    assert empty.status_code == 400 and "needs text" in empty.json()["error"]
    assert not_json.status_code == 400
    assert not Message.objects.exists()


def test_the_transcript_is_mailed_to_the_visitor(client, widget):
    token = session(client, widget)["token"]
    post(
        client,
        widget,
        "messages",
        {"token": token, "client_id": "a", "text": "Where is my parcel?"},
    )

    response = post(client, widget, "transcript", {"token": token, "email": "dana@example.com"})
    bad = post(client, widget, "transcript", {"token": token, "email": "not-an-address"})

    assert response.status_code == 200 and response.json()["sent"] >= 1
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["dana@example.com"]
    assert "Where is my parcel?" in mail.outbox[0].body
    assert bad.status_code == 400


def test_the_widget_customization_is_in_the_admin_console(client, owner, widget):
    sign_in(client, owner.email)

    page = client.get(f"/admin/channels_app/channelasset/{widget.asset.pk}/change/")

    assert page.status_code == 200
    assert str(widget.widget_id).encode() in page.content and b"allowed_origins" in page.content


def test_the_demo_page_embeds_the_widget(client, widget):
    page = client.get("/livechat/demo/")

    assert page.status_code == 200
    assert f"/livechat/{widget.widget_id}/widget.js".encode() in page.content


def visitor_socket(widget, token, origin=ORIGIN) -> WebsocketCommunicator:
    from config.asgi import application

    headers = [(b"host", HOST.encode()), (b"origin", origin.encode())]
    return WebsocketCommunicator(
        application, f"/ws/livechat/{widget.widget_id}/?token={token}", headers=headers
    )


@pytest.mark.django_db(transaction=True)
async def test_the_visitor_socket_refuses_a_foreign_origin_and_a_forged_token(widget):
    token = await database_sync_to_async(livechat.visitor_token_issue)(widget=widget, visitor="v-x")

    foreign = visitor_socket(widget, token, origin="https://evil.example")
    await foreign.connect()
    closed = await foreign.receive_output(timeout=5)
    forged = visitor_socket(widget, token + "x")
    await forged.connect()
    closed_forged = await forged.receive_output(timeout=5)

    assert closed["type"] == "websocket.close" and closed["code"] == consumers.CLOSE_NOT_ALLOWED
    assert closed_forged["code"] == consumers.CLOSE_BAD_TOKEN


@pytest.mark.django_db(transaction=True)
async def test_a_visitor_writes_over_the_socket_and_an_agent_reply_arrives_live(widget, agent):
    token = await database_sync_to_async(livechat.visitor_token_issue)(
        widget=widget, visitor="v-dana"
    )
    socket = visitor_socket(widget, token)
    ok, _ = await socket.connect()
    assert ok
    assert (await socket.receive_json_from(timeout=5))["type"] == "history"

    await socket.send_json_to({"type": "message", "client_id": "m1", "text": "Hello there"})
    ack = None
    while ack is None:
        frame = await socket.receive_json_from(timeout=10)
        if frame["type"] == "ack":
            ack = frame["data"]
    conversation = await database_sync_to_async(Conversation.objects.get)()

    def reply():
        conversation.owner = agent
        conversation.save(update_fields=["owner"])
        return message_send(
            conversation=conversation,
            text="Hi Dana, how can I help?",
            author_kind="agent",
            author_agent=agent,
        )

    sent = await database_sync_to_async(reply)()
    while True:
        frame = await socket.receive_json_from(timeout=10)
        if frame["type"] == "event" and frame["payload"].get("id") == sent.pk:
            break
    await socket.disconnect()

    assert ack["text"] == "Hello there" and ack["direction"] == "in"
    assert frame["event"] == "message" and frame["payload"]["text"] == "Hi Dana, how can I help?"
    assert frame["payload"]["author"]
    assert await database_sync_to_async(Message.objects.filter(direction="in").count)() == 1


@pytest.mark.django_db(transaction=True)
async def test_visitor_typing_reaches_only_the_owning_agent(widget, agent):
    from channels.layers import get_channel_layer

    from tenants.realtime import agent_group

    token = await database_sync_to_async(livechat.visitor_token_issue)(
        widget=widget, visitor="v-typist"
    )
    socket = visitor_socket(widget, token)
    await socket.connect()
    await socket.receive_json_from(timeout=5)
    await socket.send_json_to({"type": "message", "client_id": "t1", "text": "Hi"})
    while (await socket.receive_json_from(timeout=10))["type"] != "ack":
        pass
    conversation = await database_sync_to_async(Conversation.objects.get)()
    await database_sync_to_async(Conversation.objects.filter(pk=conversation.pk).update)(
        owner=agent
    )
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(agent_group(agent.pk), channel)

    await socket.send_json_to({"type": "typing"})
    pushed = await layer.receive(channel)
    await socket.disconnect()

    assert pushed["event"] == "conversation.typing"
    assert pushed["payload"] == {"conversation_id": conversation.pk}


def test_the_admin_customizes_the_widget_and_an_outsider_cannot(client, owner, outsider, widget):
    from tests.channels_app.test_asset_setup import BLANK

    form = {
        **BLANK,
        "kind": "chat",
        "name": "Website chat",
        "email_intake": "",
        "chat_widget-TOTAL_FORMS": "1",
        "chat_widget-INITIAL_FORMS": "1",
        "chat_widget-MIN_NUM_FORMS": "0",
        "chat_widget-MAX_NUM_FORMS": "1",
        "chat_widget-0-id": str(widget.pk),
        "chat_widget-0-asset": str(widget.asset.pk),
        "chat_widget-0-allowed_origins": "https://www.acme.example",
        "chat_widget-0-title": "Talk to Acme",
        "chat_widget-0-color": "#aa3300",
        "chat_widget-0-position": "bottom-left",
        "chat_widget-0-greeting": "Hi!",
        "chat_widget-0-ask_name": "on",
        "chat_widget-0-offline_behaviour": "message",
        "chat_widget-0-offline_text": "Later.",
        "chat_widget-0-prechat_fields": "[]",
        "chat_widget-0-identity_secret": "",
    }
    change = f"/admin/channels_app/channelasset/{widget.asset.pk}/change/"
    sign_in(client, outsider.email)
    foreign = client.post(change, form)
    widget.refresh_from_db()
    untouched = widget.title
    client.logout()
    sign_in(client, owner.email)
    saved = client.post(change, form)

    widget.refresh_from_db()
    assert foreign.status_code in (302, 403, 404) and untouched == "Chat with us"
    assert saved.status_code == 302, saved.content[:3000]
    assert widget.title == "Talk to Acme" and widget.position == "bottom-left"
    assert widget.origins() == ["https://www.acme.example"]


@pytest.mark.django_db(transaction=True)
async def test_the_visitor_sees_read_when_the_agent_has_seen_the_message(widget, agent):
    from channels_app.services.outbound import message_mark_seen

    token = await database_sync_to_async(livechat.visitor_token_issue)(
        widget=widget, visitor="v-reader"
    )
    socket = visitor_socket(widget, token)
    await socket.connect()
    await socket.receive_json_from(timeout=5)
    await socket.send_json_to({"type": "message", "client_id": "r1", "text": "Anyone?"})
    ack = await socket.receive_json_from(timeout=10)
    while ack["type"] != "ack":
        ack = await socket.receive_json_from(timeout=10)

    def seen():
        Conversation.objects.update(owner=agent)
        return message_mark_seen(message_ids=[ack["data"]["id"]], agent=agent)

    await database_sync_to_async(seen)()
    frame = await socket.receive_json_from(timeout=10)
    while frame.get("event") != "read":
        frame = await socket.receive_json_from(timeout=10)
    await socket.disconnect()

    assert frame["payload"] == {"id": ack["data"]["id"]}
