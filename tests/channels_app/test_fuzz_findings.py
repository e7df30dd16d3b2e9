"""What the webhook fuzzers found, one regular test each: bodies that used to end in a 500 (or a
worker that failed the same event until it gave up) and now are dead letters with a reason."""

import json

import pytest
from django.http import QueryDict
from twilio.request_validator import RequestValidator

from channels_app.models import Conversation, InboundEvent, Message
from tests.channels_app.conftest import load_fixture, post_meta, webhook_url
from tests.channels_app.test_livechat import ORIGIN, widget  # noqa: F401 - the fixture


def post_raw_twilio(client, asset, body: bytes):
    """A form body sent as the bytes given, signed over what the server parses from it."""
    url = f"http://testserver{webhook_url(asset)}"
    signature = RequestValidator(asset.auth_token).compute_signature(
        url, QueryDict(body, encoding="utf-8")
    )
    return client.post(
        webhook_url(asset),
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )


def test_an_sms_body_with_a_nul_byte_is_a_dead_letter_not_a_500(client, sms_asset):
    body = b"MessageSid=SM1&From=%2B4915112345678&To=%2B15005550006&Body=a\x00b"

    response = post_raw_twilio(client, sms_asset, body)

    assert response.status_code == 400
    assert "NUL" in response.json()["reason"]
    event = InboundEvent.objects.get()
    # PostgreSQL text cannot hold NUL: the dead letter keeps U+FFFD in its place.
    assert event.status == InboundEvent.Status.DEAD and "a\ufffdb" in event.body


def test_an_sms_body_that_is_not_utf8_is_a_dead_letter_not_a_500(client, sms_asset):
    body = b"MessageSid=SM1&From=%2B4915112345678&To=%2B15005550006&Body=caf\xe9"

    response = post_raw_twilio(client, sms_asset, body)

    assert response.status_code == 400 and "not UTF-8" in response.json()["reason"]
    assert InboundEvent.objects.get().status == InboundEvent.Status.DEAD


def test_whatsapp_contacts_that_are_not_objects_are_a_dead_letter_not_a_500(client, whatsapp_asset):
    payload = load_fixture("whatsapp", "text")
    payload["entry"][0]["changes"][0]["value"]["contacts"] = ["not a contact"]

    response = post_meta(client, whatsapp_asset, payload)

    assert response.status_code == 400
    assert "unexpected shape (AttributeError" in response.json()["reason"]
    assert InboundEvent.objects.get().status == InboundEvent.Status.DEAD
    assert not Message.objects.exists()


@pytest.mark.parametrize("mid", [["m_1"], {"id": "m_1"}, 17])
def test_a_messenger_message_id_that_is_not_text_is_a_dead_letter_not_a_500(
    client, messenger_asset, mid
):
    payload = load_fixture("messenger", "text")
    payload["entry"][0]["messaging"][0]["message"]["mid"] = mid

    response = post_meta(client, messenger_asset, payload)

    assert response.status_code == 400 and "is not text" in response.json()["reason"]
    assert InboundEvent.objects.get().status == InboundEvent.Status.DEAD


def test_a_sender_address_longer_than_its_column_is_a_dead_letter_not_a_failing_worker(
    deliver, whatsapp_asset
):
    payload = load_fixture("whatsapp", "text")
    value = payload["entry"][0]["changes"][0]["value"]
    value["messages"][0]["from"] = "4" * 300
    value["contacts"][0]["wa_id"] = "4" * 300

    response = deliver(whatsapp_asset, payload)

    assert response.status_code == 200  # stored first; processing finds it unreadable
    event = InboundEvent.objects.get()
    assert event.status == InboundEvent.Status.DEAD
    assert "sender's address must be text of 1 to 255 characters" in event.error
    assert not Conversation.objects.exists()


def test_a_nul_character_in_a_message_text_is_dropped_and_the_message_kept(deliver, whatsapp_asset):
    payload = load_fixture("whatsapp", "text")
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] = "par\u0000cel"

    deliver(whatsapp_asset, payload)

    assert InboundEvent.objects.get().status == InboundEvent.Status.PROCESSED
    assert Message.objects.get().text == "parcel"


@pytest.mark.parametrize("user_id, signature", [("émile", "ü"), ("\ud800", "00")])
def test_a_live_chat_identity_with_non_ascii_or_broken_text_is_refused_not_a_500(
    client,
    widget,  # noqa: F811
    user_id,
    signature,
):
    body = json.dumps({"user_id": user_id, "user_signature": signature})

    response = client.post(
        f"/livechat/{widget.widget_id}/session",
        body,
        content_type="application/json",
        headers={"Origin": ORIGIN},
    )

    assert response.status_code in (400, 403), response.content
    assert "error" in response.json()
