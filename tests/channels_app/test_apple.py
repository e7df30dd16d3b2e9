"""Apple Messages for Business: Apple's inbound format with its headers and JWT, the interactive
replies, the close event, encrypted attachments through the scanner, and Apple's outbound format
against the fake provider."""

import asyncio
import gzip
import json
import time

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.http import Http404

from channels_app import services
from channels_app.models import (
    Attachment,
    ChannelAsset,
    ChannelKind,
    ChannelTemplate,
    Conversation,
    DeliveryStatus,
    Direction,
    InboundEvent,
    Message,
)
from channels_app.providers.apple import auth
from channels_app.services.typing import typing_key
from routing.desktop.actions import ACTIONS
from tenants.realtime import agent_group
from tests.channels_app.conftest import load_fixture, webhook_url
from tests.clamd import EICAR
from tests.factories import AgentFactory, ChannelAssetFactory

BUSINESS_ID = "4a0c3b5e-8f1f-4c1e-9d7a-2b6e1f0a9c11"
MSP_ID = "3f1c0e5d-msp-0001"
MSP_SECRET = "c2VjcmV0LW1zcC1rZXktZm9yLXRlc3RzLTAxMjM0NTY3ODk="
CUSTOMER = "urn:mbid:AQAAY0rcustomer0001Xb5VtQ"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64


@pytest.fixture
def apple_asset(tenant, fake_provider):
    return ChannelAssetFactory(
        tenant=tenant,
        kind=ChannelKind.APPLE,
        name="Acme Apple Messages",
        apple_business_id=BUSINESS_ID,
        apple_msp_id=MSP_ID,
        apple_msp_secret=MSP_SECRET,
        api_base_url=f"{fake_provider.base_url}/apple",
    )


def post_apple(
    client, asset, fixture: dict, *, token: str | None = None, gzipped=False, path: str = ""
):
    body = json.dumps(fixture["body"]).encode()
    headers = dict(fixture["headers"])
    if token is None:
        token = auth.token(secret=asset.apple_msp_secret, audience=asset.apple_msp_id)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if gzipped:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    return client.post(
        webhook_url(asset).rstrip("/") + path if path else webhook_url(asset),
        data=body,
        content_type="application/json",
        headers=headers,
    )


@pytest.fixture
def deliver_apple(client, django_capture_on_commit_callbacks):
    def post(asset, fixture, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return post_apple(client, asset, fixture, **kwargs)

    return post


def apple(name: str) -> dict:
    return load_fixture("apple", name)


def test_an_inbound_text_is_stored_with_apples_headers(deliver_apple, apple_asset):
    response = deliver_apple(apple_asset, apple("text"))

    assert response.status_code == 200
    message = Message.objects.get()
    assert message.text == "Hallo, wo ist mein Paket?"
    assert message.provider_message_id == "7b4c8b0e-5a3f-4b52-9c41-0d6d1e7a2f01"
    assert message.conversation.identity.address == CUSTOMER
    assert message.content["capabilities"] == [
        "LIST",
        "TIME",
        "QUICK",
        "FORMS",
        "RICH",
        "AUTH",
        "PAY",
    ]
    assert message.content["locale"] == "de_DE"
    stored = json.loads(InboundEvent.objects.get().body)
    assert stored["headers"]["destination-id"] == BUSINESS_ID


def test_apples_message_path_under_the_webhook_url_takes_messages_too(client, apple_asset):
    response = post_apple(client, apple_asset, apple("text"), path="/message")

    assert response.status_code == 200
    assert InboundEvent.objects.count() == 1


def test_a_token_that_says_it_is_still_valid_is_taken(client, apple_asset):
    token = auth.token(secret=MSP_SECRET, audience=MSP_ID, lifetime=3600)

    assert post_apple(client, apple_asset, apple("text"), token=token).status_code == 200


def test_a_gzip_body_is_inflated(deliver_apple, apple_asset):
    response = deliver_apple(apple_asset, apple("text"), gzipped=True)

    assert response.status_code == 200
    assert Message.objects.get().text == "Hallo, wo ist mein Paket?"


def test_the_same_message_twice_is_stored_once(deliver_apple, apple_asset):
    deliver_apple(apple_asset, apple("text"))
    deliver_apple(apple_asset, apple("text"))

    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not-a-jwt",
        auth.token(secret="b3RoZXItc2VjcmV0", audience=MSP_ID),
        auth.token(secret=MSP_SECRET, audience="another-msp"),
        auth.token(secret=MSP_SECRET, audience=MSP_ID, now=time.time() - 7200, lifetime=3600),
    ],
    ids=["missing", "garbage", "wrong secret", "wrong audience", "expired"],
)
def test_a_missing_or_wrong_jwt_is_refused_and_nothing_is_stored(client, apple_asset, token):
    response = post_apple(client, apple_asset, apple("text"), token=token)

    assert response.status_code == 403
    assert InboundEvent.objects.count() == 0
    assert Message.objects.count() == 0


def test_a_message_for_another_business_is_refused(client, apple_asset):
    fixture = apple("text")
    fixture["headers"]["destination-id"] = "someone-else"

    response = post_apple(client, apple_asset, fixture)

    assert response.status_code == 403
    assert InboundEvent.objects.count() == 0


def test_an_outsiders_asset_secret_does_not_open_ours(client, apple_asset, other_tenant):
    theirs = ChannelAssetFactory(
        tenant=other_tenant,
        kind=ChannelKind.APPLE,
        apple_business_id="outsider-business",
        apple_msp_id="outsider-msp",
        apple_msp_secret="b3V0c2lkZXItc2VjcmV0",
    )
    token = auth.token(secret=theirs.apple_msp_secret, audience=theirs.apple_msp_id)

    response = post_apple(client, apple_asset, apple("text"), token=token)

    assert response.status_code == 403
    assert not Message.objects.filter(tenant=apple_asset.tenant).exists()


def test_a_list_picker_answer_is_a_structured_reply(deliver_apple, apple_asset):
    deliver_apple(apple_asset, apple("list_picker_reply"))

    message = Message.objects.get()
    assert message.content_type == "list_picker"
    assert message.text == "Meine Bestellung"
    assert message.content["selected_id"] == "order"
    assert message.content["selected"] == [{"id": "order", "title": "Meine Bestellung"}]
    assert message.content["request_id"] == "5b0f8c44-1b0e-4f7e-9d2a-3e1c0f0a1b22"


def test_a_time_picker_answer_names_the_slot(deliver_apple, apple_asset):
    deliver_apple(apple_asset, apple("time_picker_reply"))

    message = Message.objects.get()
    assert message.content_type == "time_picker"
    assert message.content["slot_id"] == "slot-2"
    assert message.content["slot_start"] == "2026-11-27T09:00+0000"
    assert message.content["slot_duration"] == 1800
    assert message.text == "Rückruf: 2026-11-27T09:00+0000"


def test_a_form_answer_keeps_each_pages_value(deliver_apple, apple_asset):
    deliver_apple(apple_asset, apple("form_reply"))

    message = Message.objects.get()
    assert message.content_type == "form"
    assert message.content["answers"] == {"order_number": "A-1042", "delivery": "Packstation"}
    assert "order_number: A-1042" in message.text


def test_a_quick_reply_answer_carries_its_identifier(deliver_apple, apple_asset):
    deliver_apple(apple_asset, apple("quick_reply"))

    message = Message.objects.get()
    assert message.content_type == "quick_reply"
    assert message.content["payload"] == "yes"
    assert message.text == "Ja"


def heard_by(group: str, action) -> list[dict]:
    """What a channel in the group receives while the action runs (within a second after)."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)
    messages = []
    try:
        action()
        while True:
            try:
                messages.append(async_to_sync(asyncio.wait_for)(layer.receive(channel), timeout=1))
            except asyncio.TimeoutError:
                return messages
    finally:
        async_to_sync(layer.group_discard)(group, channel)


def test_the_customer_typing_shows_on_the_owners_desktop_and_makes_no_message(
    deliver_apple, apple_asset, agent
):
    deliver_apple(apple_asset, apple("text"))
    conversation = Conversation.objects.get()
    Conversation.objects.filter(pk=conversation.pk).update(owner=agent)

    heard = heard_by(
        agent_group(agent.pk), lambda: deliver_apple(apple_asset, apple("typing_start"))
    )

    assert [(m["event"], m["payload"]) for m in heard] == [
        ("conversation.typing", {"conversation_id": conversation.pk})
    ]
    assert Message.objects.count() == 1
    typing = InboundEvent.objects.get(provider_event_id__startswith="typing_start:")
    assert typing.status == InboundEvent.Status.PROCESSED


def test_the_customer_typing_is_not_heard_in_another_tenant(
    deliver_apple, apple_asset, agent, other_tenant
):
    stranger = AgentFactory(tenant=other_tenant)
    deliver_apple(apple_asset, apple("text"))
    Conversation.objects.update(owner=agent)

    heard = heard_by(
        agent_group(stranger.pk), lambda: deliver_apple(apple_asset, apple("typing_start"))
    )

    assert heard == []


def test_the_agent_typing_reaches_the_apple_customer_once_in_a_while(
    apple_conversation, agent, fake_provider, django_capture_on_commit_callbacks
):
    Conversation.objects.filter(pk=apple_conversation.pk).update(owner=agent)
    redis.Redis.from_url(settings.REDIS_URL).delete(typing_key(apple_conversation.pk))

    with django_capture_on_commit_callbacks(execute=True):
        first = ACTIONS["typing"](agent=agent, params={"conversation_id": apple_conversation.pk})
        again = ACTIONS["typing"](agent=agent, params={"conversation_id": apple_conversation.pk})

    assert first == {"sent": True}
    assert again == {"sent": False}  # within the interval: nothing more goes out
    [record] = fake_provider.sent_to("apple")
    assert record["destination_id"] == CUSTOMER
    assert record["payload"]["type"] == "typing_start"
    assert record["payload"]["sourceId"] == BUSINESS_ID
    assert Message.objects.filter(direction=Direction.OUTBOUND).count() == 0


def test_an_agent_of_another_tenant_cannot_type_into_the_conversation(
    apple_conversation, agent, other_tenant, fake_provider
):
    Conversation.objects.filter(pk=apple_conversation.pk).update(owner=agent)
    stranger = AgentFactory(tenant=other_tenant)

    with pytest.raises(Http404):
        ACTIONS["typing"](agent=stranger, params={"conversation_id": apple_conversation.pk})
    assert fake_provider.sent_to("apple") == []


def test_the_close_event_closes_the_customers_conversation(deliver_apple, apple_asset):
    deliver_apple(apple_asset, apple("text"))

    deliver_apple(apple_asset, apple("close"))

    conversation = Conversation.objects.get()
    assert conversation.status == Conversation.Status.CLOSED
    assert conversation.close_reason == "customer_deleted"


def test_an_interactive_reply_of_an_unknown_kind_is_a_dead_letter(client, apple_asset):
    fixture = apple("list_picker_reply")
    del fixture["body"]["interactiveData"]["data"]["listPicker"]

    response = post_apple(client, apple_asset, fixture)

    assert response.status_code == 400
    assert "listPicker, event, dynamic or quick-reply" in response.json()["reason"]


def receive_file(deliver_apple, fake_provider, asset, content: bytes, mime: str, name: str):
    media_id = fake_provider.add_media(content, mime, name)
    fixture = apple("attachment")
    fixture["body"]["attachments"] = [
        fake_provider.apple_attachment(media_id, fake_provider.base_url)
    ]
    assert deliver_apple(asset, fixture).status_code == 200
    return Message.objects.latest("id").attachments.get()


def test_an_encrypted_attachment_is_downloaded_decrypted_and_scanned_clean(
    deliver_apple, fake_provider, apple_asset
):
    attachment = receive_file(
        deliver_apple, fake_provider, apple_asset, PNG, "image/png", "photo.png"
    )

    assert attachment.detected_content_type == "image/png"
    assert attachment.filename == "photo.png"
    with attachment.file.open("rb") as handle:
        assert handle.read() == PNG
    assert attachment.scan_status == Attachment.ScanStatus.CLEAN


def test_a_file_of_a_type_the_template_refuses_is_refused_after_decryption(
    deliver_apple, fake_provider, apple_asset
):
    attachment = receive_file(
        deliver_apple, fake_provider, apple_asset, b"plain words", "image/jpeg", "note.jpg"
    )

    assert attachment.detected_content_type == "text/plain"
    assert attachment.refused_reason
    assert not attachment.file


def test_an_infected_attachment_is_caught_after_decryption(
    deliver_apple, fake_provider, apple_asset
):
    # The tenant lets text files through, so the type check passes and the scanner decides.
    template = ChannelTemplate.default_for(tenant=apple_asset.tenant, kind="apple")
    template.allowed_content_types = [*template.allowed_content_types, "text/plain"]
    template.save()

    attachment = receive_file(
        deliver_apple, fake_provider, apple_asset, EICAR, "image/jpeg", "holiday.jpg"
    )

    assert attachment.scan_status == Attachment.ScanStatus.INFECTED
    assert attachment.scan_signature.startswith("Eicar-Test-Signature")


# --- outbound ------------------------------------------------------------------------------------


@pytest.fixture
def apple_conversation(deliver_apple, apple_asset):
    deliver_apple(apple_asset, apple("text"))
    return Conversation.objects.get()


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    def run(**kwargs) -> Message:
        with django_capture_on_commit_callbacks(execute=True):
            message = services.message_send(**kwargs)
        message.refresh_from_db()
        return message

    return run


def test_an_agent_text_goes_out_in_apples_format(send, apple_conversation, agent, fake_provider):
    message = send(
        conversation=apple_conversation,
        text="Ich schaue nach.",
        author_kind="agent",
        author_agent=agent,
    )

    assert message.status == DeliveryStatus.SENT
    [record] = fake_provider.sent_to("apple")
    assert record["path"] == "/apple/v1/message"
    assert record["destination_id"] == CUSTOMER
    assert record["payload"] == {
        "v": 1,
        "id": str(message.idempotency_key),
        "sourceId": BUSINESS_ID,
        "destinationId": CUSTOMER,
        "type": "text",
        "body": "Ich schaue nach.",
    }
    assert message.provider_message_id == str(message.idempotency_key)


RICH = {
    "list_picker": (
        {
            "type": "list_picker",
            "title": "Wobei?",
            "items": [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}],
        },
        lambda data: (
            [i["identifier"] for i in data["listPicker"]["sections"][0]["items"]] == ["a", "b"]
        ),
    ),
    "time_picker": (
        {
            "type": "time_picker",
            "title": "Rückruf",
            "slots": [{"id": "s1", "start": "2026-11-27T09:00+0000", "duration": 900}],
        },
        lambda data: (
            data["event"]["timeslots"][0]
            == {"identifier": "s1", "startTime": "2026-11-27T09:00+0000", "duration": 900}
        ),
    ),
    "form": (
        {
            "type": "form",
            "title": "Angaben",
            "pages": [{"id": "order_number", "title": "Bestellnummer"}],
        },
        lambda data: data["dynamic"]["data"]["pages"][0]["pageIdentifier"] == "order_number",
    ),
    "quick_reply": (
        {
            "type": "quick_reply",
            "title": "Passt es?",
            "items": [{"id": "yes", "title": "Ja"}, {"id": "no", "title": "Nein"}],
        },
        lambda data: data["quick-reply"]["items"][1] == {"identifier": "no", "title": "Nein"},
    ),
}


@pytest.mark.parametrize("kind", list(RICH))
def test_interactive_messages_go_out_as_apples_interactive_type(
    send, apple_conversation, agent, fake_provider, kind
):
    content, check = RICH[kind]

    message = send(
        conversation=apple_conversation,
        text=content["title"],
        content=content,
        author_kind="agent",
        author_agent=agent,
    )

    assert message.status == DeliveryStatus.SENT
    [record] = fake_provider.sent_to("apple")
    payload = record["payload"]
    assert payload["type"] == "interactive"
    assert payload["interactiveData"]["bid"].startswith(
        "com.apple.messages.MSMessageExtensionBalloonPlugin"
    )
    assert payload["interactiveData"]["receivedMessage"]["title"] == content["title"]
    assert check(payload["interactiveData"]["data"])


def test_a_rich_link_goes_out_as_apples_rich_link(send, apple_conversation, agent, fake_provider):
    content = {
        "type": "rich_link",
        "title": "Sendungsverfolgung",
        "url": "https://example.com/track/1",
    }

    send(
        conversation=apple_conversation,
        text="Link",
        content=content,
        author_kind="agent",
        author_agent=agent,
    )

    [record] = fake_provider.sent_to("apple")
    assert record["payload"]["type"] == "richLink"
    assert record["payload"]["richLinkData"]["url"] == "https://example.com/track/1"


def test_a_list_picker_without_items_fails_with_the_reason(
    send, apple_conversation, agent, fake_provider
):
    message = send(
        conversation=apple_conversation,
        text="Wobei?",
        content={"type": "list_picker", "title": "Wobei?", "items": []},
        author_kind="agent",
        author_agent=agent,
    )

    assert message.status == DeliveryStatus.FAILED
    assert "needs at least one item" in message.failure_reason
    assert fake_provider.sent_to("apple") == []


# --- the asset -----------------------------------------------------------------------------------


def test_an_apple_asset_is_created_with_its_secret_masked(api_as, owner, tenant):
    response = api_as(owner).post(
        "/api/v1/channel-assets/",
        {
            "tenant": tenant.pk,
            "kind": "apple",
            "name": "Apple",
            "apple_business_id": BUSINESS_ID,
            "apple_msp_id": MSP_ID,
            "apple_msp_secret": MSP_SECRET,
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    assert "apple_msp_secret" not in response.json()
    assert response.json()["secrets"]["apple_msp_secret"].endswith(MSP_SECRET[-4:])
    assert MSP_SECRET not in json.dumps(response.json())
    asset = ChannelAsset.objects.get()
    assert asset.apple_msp_secret == MSP_SECRET


def test_an_apple_asset_needs_its_business_id_and_msp_credentials(api_as, owner, tenant):
    response = api_as(owner).post(
        "/api/v1/channel-assets/",
        {"tenant": tenant.pk, "kind": "apple", "name": "X"},
        format="json",
    )

    assert response.status_code == 400
    assert set(response.json()) >= {"apple_business_id", "apple_msp_id", "apple_msp_secret"}


def test_an_outsider_gets_404_for_the_apple_asset(outsider, apple_asset, api_as):
    assert api_as(outsider).get(f"/api/v1/channel-assets/{apple_asset.pk}/").status_code == 404


@pytest.fixture
def send_file(django_capture_on_commit_callbacks, apple_conversation, agent):
    def run(data: bytes = PNG, **kwargs) -> Message:
        with django_capture_on_commit_callbacks(execute=True):
            message = services.message_send_file(
                conversation=apple_conversation,
                data=data,
                filename="map.png",
                author_kind="agent",
                author_agent=agent,
                **kwargs,
            )
        message.refresh_from_db()
        return message

    return run


def test_a_file_goes_to_apple_encrypted_and_the_customer_side_decrypts_it(send_file, fake_provider):
    message = send_file(caption="Hier die Karte")

    assert message.status == DeliveryStatus.SENT, message.failure_reason
    [record] = fake_provider.sent_to("apple")
    payload = record["payload"]
    assert payload["type"] == "text"
    assert payload["body"] == "\ufffc\nHier die Karte"
    [described] = payload["attachments"]
    assert described["name"] == "map.png"
    assert described["mimeType"] == "image/png"
    assert described["key"].startswith("00") and len(described["key"]) == 66
    # What Apple stores is ciphertext: the key is needed to read it.
    stored = fake_provider.media[described["url"].rsplit("/", 1)[1]][0]
    assert stored != PNG and len(stored) == len(PNG) == described["size"]
    [received] = fake_provider.uploads_to("apple")
    assert received["content"] == PNG
    assert received["message_id"] == str(message.idempotency_key)


def test_each_file_gets_its_own_key(send_file, fake_provider):
    send_file()
    send_file()

    keys = [r["payload"]["attachments"][0]["key"] for r in fake_provider.sent_to("apple")]
    assert len(keys) == 2 and keys[0] != keys[1]
    assert [u["content"] for u in fake_provider.uploads_to("apple")] == [PNG, PNG]


@pytest.mark.parametrize(
    "answer",
    [b"", b"not json", b'{"upload-url": "http://127.0.0.1:1/x"}', b'["upload-url"]'],
    ids=["empty", "not json", "no mmcs-url", "not an object"],
)
def test_a_malformed_pre_upload_answer_fails_the_send_and_nothing_goes_out(
    send_file, fake_provider, answer
):
    fake_provider.answer_next(path="/apple/v1/preUpload", body=answer)

    message = send_file()

    assert message.status == DeliveryStatus.FAILED
    assert "unexpected answer from Apple's preUpload" in message.failure_reason
    assert fake_provider.sent_to("apple") == []
    assert fake_provider.uploads_to("apple") == []
    assert all(slot["content"] is None for slot in fake_provider.apple_slots.values())
    assert Message.objects.filter(direction=Direction.OUTBOUND).count() == 1


def test_a_malformed_upload_answer_fails_the_send_and_sends_no_message(send_file, fake_provider):
    fake_provider.answer_next(
        path="/apple/v1/preUpload",
        body=json.dumps(
            {
                "upload-url": f"{fake_provider.base_url}/apple/mmcs/broken",
                "mmcs-url": f"{fake_provider.base_url}/apple/mmcs/broken",
                "mmcs-owner": "o",
            }
        ).encode(),
    )
    fake_provider.answer_next(path="/apple/mmcs/broken", body=b'{"singleFile": {}}')

    message = send_file()

    assert message.status == DeliveryStatus.FAILED
    assert "unexpected answer from Apple's upload" in message.failure_reason
    assert fake_provider.sent_to("apple") == []


def test_a_pre_upload_refusal_keeps_apples_reason(send_file, fake_provider):
    fake_provider.answer_next(path="/apple/v1/preUpload", status=403, body=b"quota exceeded")

    message = send_file()

    assert message.status == DeliveryStatus.FAILED
    assert message.failure_reason == "HTTP 403: quota exceeded"
    assert fake_provider.sent_to("apple") == []


def test_a_send_apple_refuses_for_a_moment_is_retried_and_arrives_once(send_file, fake_provider):
    fake_provider.answer_next(path="/apple/v1/message", status=503, body=b"try again")

    message = send_file()

    assert message.status == DeliveryStatus.SENT
    assert message.send_attempts == 2
    [record] = fake_provider.sent_to("apple")
    assert record["idempotency_key"] == str(message.idempotency_key)
    assert [u["content"] for u in fake_provider.uploads_to("apple")] == [PNG]
