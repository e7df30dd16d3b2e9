"""Media URLs from webhooks and assets' API base URLs go through the outbound guard: internal
addresses are never reached and downloads stop at the channel's limit."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from channels_app import services
from channels_app.models import DeliveryStatus, Message
from tests.channels_app.conftest import load_fixture
from tests.factories import ConversationFactory
from tests.loopback import LoopbackServer


@pytest.fixture
def internal():
    """A loopback service nobody allowed: the media URLs below point at it."""
    with LoopbackServer("127.0.0.2") as running:
        running.routes["/secret"] = lambda h: h.reply(200, b"internal data")
        yield running


def _media_error(message: Message) -> str:
    [error] = message.content["media_errors"]
    return error


def _assert_not_downloaded(message: Message, reason: str) -> None:
    attachment = message.attachments.get()
    assert not attachment.file and attachment.size == 0
    assert reason in _media_error(message)


def test_a_messenger_media_url_to_an_internal_address_is_not_fetched(
    deliver, messenger_asset, fake_provider, internal
):
    payload = load_fixture("messenger", "image", MEDIA_BASE=internal.url)
    payload["entry"][0]["messaging"][0]["message"]["attachments"][0]["payload"]["url"] = (
        f"{internal.url}/secret"
    )

    assert deliver(messenger_asset, payload).status_code == 200

    _assert_not_downloaded(Message.objects.get(), "a loopback address")
    assert internal.requests == []


def test_a_twilio_media_url_to_an_internal_address_is_not_fetched(
    deliver, sms_asset, fake_provider, internal
):
    form = load_fixture("sms", "mms", MEDIA_BASE=internal.url)
    form["MediaUrl0"] = f"{internal.url}/secret"

    assert deliver(sms_asset, form).status_code == 200

    _assert_not_downloaded(Message.objects.get(), "a loopback address")
    assert internal.requests == []


def test_a_whatsapp_media_url_to_an_internal_address_is_not_fetched(
    deliver, whatsapp_asset, internal, settings
):
    """The media info answer names the download URL; it is checked like any other."""
    with LoopbackServer("127.0.0.1") as graph:
        graph.routes["/1479537139650973"] = lambda h: h.reply(
            200,
            json.dumps({"url": f"{internal.url}/secret", "mime_type": "image/jpeg"}).encode(),
            {"Content-Type": "application/json"},
        )
        whatsapp_asset.api_base_url = graph.url
        whatsapp_asset.save(update_fields=["api_base_url"])

        assert deliver(whatsapp_asset, load_fixture("whatsapp", "image")).status_code == 200

    assert [r["path"] for r in graph.requests] == ["/1479537139650973"]
    _assert_not_downloaded(Message.objects.get(), "a loopback address")
    assert internal.requests == []


def _image_of(fake_provider, size: int) -> dict:
    media_id = fake_provider.add_media(b"\x89PNG\r\n\x1a\n" + b"\x00" * (size - 8), "image/png")
    payload = load_fixture("messenger", "image", MEDIA_BASE=fake_provider.base_url)
    payload["entry"][0]["messaging"][0]["message"]["attachments"][0]["payload"]["url"] = (
        f"{fake_provider.base_url}/messenger/media/{media_id}/download"
    )
    return payload


def test_a_download_over_the_channels_limit_is_not_stored(
    deliver, messenger_asset, fake_provider, settings
):
    settings.MEDIA_MAX_BYTES = {**settings.MEDIA_MAX_BYTES, "messenger": 1000}

    deliver(messenger_asset, _image_of(fake_provider, 5000))

    _assert_not_downloaded(Message.objects.get(), "more than 1000")


def test_a_download_within_the_channels_limit_is_stored(
    deliver, messenger_asset, fake_provider, settings
):
    settings.MEDIA_MAX_BYTES = {**settings.MEDIA_MAX_BYTES, "messenger": 1000}

    deliver(messenger_asset, _image_of(fake_provider, 900))

    attachment = Message.objects.get().attachments.get()
    assert attachment.file and attachment.size == 900


def test_an_api_base_url_on_an_internal_address_is_refused_for_good(
    whatsapp_asset, internal, django_capture_on_commit_callbacks
):
    whatsapp_asset.api_base_url = f"{internal.url}/secret"
    whatsapp_asset.save(update_fields=["api_base_url"])
    conversation = ConversationFactory(
        asset=whatsapp_asset, last_inbound_at=timezone.now() - timedelta(hours=1)
    )

    with django_capture_on_commit_callbacks(execute=True):
        message = services.message_send(
            conversation=conversation, text="Hallo", author_kind="agent"
        )
    message.refresh_from_db()

    assert message.status == DeliveryStatus.FAILED and message.send_attempts == 1
    assert "a loopback address" in message.failure_reason
    assert internal.requests == []
