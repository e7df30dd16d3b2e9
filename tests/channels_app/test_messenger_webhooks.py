from channels_app.models import Conversation, DeliveryStatus, Direction, InboundEvent, Message
from tests.channels_app.conftest import load_fixture, post_meta, webhook_url
from tests.factories import MessageFactory


def fb(name: str, fake_provider=None):
    return load_fixture(
        "messenger", name, MEDIA_BASE=fake_provider.base_url if fake_provider else ""
    )


def test_verification_handshake_echoes_the_challenge(client, messenger_asset):
    response = client.get(
        webhook_url(messenger_asset),
        {
            "hub.mode": "subscribe",
            "hub.verify_token": "test-verify-token",
            "hub.challenge": "CHALLENGE_ACCEPTED",
        },
    )

    assert response.status_code == 200
    assert response.content == b"CHALLENGE_ACCEPTED"


def test_a_text_message_is_stored(deliver, messenger_asset):
    assert deliver(messenger_asset, fb("text")).status_code == 200

    message = Message.objects.get()
    assert message.text == "Hello, is my order on its way?"
    assert message.conversation.identity.address == "7300000000000001"
    assert message.conversation.kind == "messenger"


def test_an_image_attachment_is_downloaded_and_stored(deliver, messenger_asset, fake_provider):
    deliver(messenger_asset, fb("image", fake_provider))

    message = Message.objects.get()
    assert message.content_type == "image"
    attachment = message.attachments.get()
    assert attachment.detected_content_type == "image/png"
    assert attachment.provider_url.endswith("/messenger/media/sample-image/download")
    assert attachment.size > 0


def test_a_file_with_text_keeps_both(deliver, messenger_asset, fake_provider):
    deliver(messenger_asset, fb("file_with_text", fake_provider))

    message = Message.objects.get()
    assert message.text == "Here is the receipt"
    assert message.attachments.get().detected_content_type == "application/pdf"


def test_a_quick_reply_keeps_its_payload(deliver, messenger_asset):
    deliver(messenger_asset, fb("quick_reply"))

    message = Message.objects.get()
    assert (message.content_type, message.text, message.content["payload"]) == (
        "quick_reply",
        "Track my order",
        "TRACK_ORDER",
    )


def test_a_postback_becomes_a_message_with_its_payload(deliver, messenger_asset):
    deliver(messenger_asset, fb("postback"))

    message = Message.objects.get()
    assert (message.content_type, message.text, message.content["payload"]) == (
        "postback",
        "Talk to an agent",
        "HUMAN_AGENT",
    )


def test_a_reply_keeps_which_message_was_replied_to(deliver, messenger_asset):
    deliver(messenger_asset, fb("text"))
    ours = MessageFactory(
        conversation=Conversation.objects.get(),
        direction=Direction.OUTBOUND,
        author_kind="agent",
        provider_message_id="m_OUTBOUND0001",
        status=DeliveryStatus.SENT,
    )

    deliver(messenger_asset, fb("reply"))

    assert Message.objects.get(provider_message_id="m_REPLY0001").reply_to == ours


def test_echoes_of_our_own_messages_are_ignored(deliver, messenger_asset):
    assert deliver(messenger_asset, fb("echo")).status_code == 200

    assert InboundEvent.objects.get().status == InboundEvent.Status.IGNORED
    assert Message.objects.count() == 0


def test_delivery_and_read_move_outbound_messages_forward(deliver, messenger_asset):
    deliver(messenger_asset, fb("text"))
    conversation = Conversation.objects.get()
    ours = MessageFactory(
        conversation=conversation,
        direction=Direction.OUTBOUND,
        author_kind="agent",
        provider_message_id="m_OUTBOUND0001",
        status=DeliveryStatus.SENT,
        sent_at=conversation.opened_at,
    )

    deliver(messenger_asset, fb("delivery"))
    ours.refresh_from_db()
    assert ours.status == DeliveryStatus.DELIVERED

    deliver(messenger_asset, fb("read"))
    ours.refresh_from_db()
    assert ours.status == DeliveryStatus.READ
    assert ours.read_at is not None


def test_a_wrong_signature_is_refused(client, messenger_asset):
    response = post_meta(client, messenger_asset, fb("text"), secret="wrong")

    assert response.status_code == 403
    assert InboundEvent.objects.count() == 0


def test_a_message_without_mid_is_a_dead_letter_with_a_reason(client, messenger_asset):
    response = post_meta(client, messenger_asset, fb("malformed_no_mid"))

    assert response.status_code == 400
    assert response.json()["reason"] == "message: missing mid"
    assert InboundEvent.objects.get().status == InboundEvent.Status.DEAD


def test_an_event_for_another_page_is_a_dead_letter(client, messenger_asset):
    payload = fb("text")
    payload["entry"][0]["id"] = "999"

    response = post_meta(client, messenger_asset, payload)

    assert response.status_code == 400
    assert "not this asset" in response.json()["reason"]


def test_redelivered_message_yields_exactly_one_message(deliver, messenger_asset):
    for _ in range(3):
        deliver(messenger_asset, fb("text"))

    assert Message.objects.count() == 1
