"""Agents' files on the way out, on the real clamd: checked by content against the channel
template before anything is stored, scanned before the provider call, infected ones never sent."""

import asyncio
import hashlib
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.utils import timezone

from channels_app import services
from channels_app.models import (
    Attachment,
    ChannelTemplate,
    DeliveryStatus,
    MalwareDetection,
    Message,
)
from channels_app.sandbox.fake_provider import _png
from channels_app.services import SendRefused
from tenants.realtime import agent_group
from tests.clamd import EICAR
from tests.factories import ConversationFactory

PNG = _png()
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 120


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def conversation(whatsapp_asset, agent):
    return ConversationFactory(
        asset=whatsapp_asset,
        owner=agent,
        last_inbound_at=timezone.now() - timedelta(minutes=5),
        identity__address="4915112345678",
    )


@pytest.fixture
def send_file(django_capture_on_commit_callbacks, agent):
    def run(conversation, data: bytes, filename: str = "file.bin", **kwargs) -> Message:
        with django_capture_on_commit_callbacks(execute=True):
            message = services.message_send_file(
                conversation=conversation,
                data=data,
                filename=filename,
                author_kind="agent",
                author_agent=agent,
                **kwargs,
            )
        message.refresh_from_db()
        return message

    return run


def test_a_clean_image_is_scanned_then_sent(send_file, conversation, fake_provider):
    message = send_file(conversation, PNG, "photo.png", caption="Ihr Beleg")

    assert (message.status, message.content_type, message.text) == ("sent", "image", "Ihr Beleg")
    attachment = message.attachments.get()
    assert attachment.scan_status == Attachment.ScanStatus.CLEAN
    assert attachment.scanned_at is not None
    assert attachment.detected_content_type == "image/png"
    assert [u["sha256"] for u in fake_provider.uploads_to("whatsapp")] == [
        hashlib.sha256(PNG).hexdigest()
    ]
    assert fake_provider.sent_to("whatsapp")[0]["payload"]["image"]["caption"] == "Ihr Beleg"


def test_an_infected_file_is_never_sent_and_the_agent_is_told_why(
    send_file, conversation, fake_provider, agent
):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(agent_group(agent.pk), channel)
    try:
        message = send_file(conversation, EICAR, "invoice.txt")
        events = []
        while not any(e["event"] == "message.status" for e in events):
            events.append(async_to_sync(asyncio.wait_for)(layer.receive(channel), timeout=5))
    finally:
        async_to_sync(layer.group_discard)(agent_group(agent.pk), channel)

    assert events[-1]["payload"] == {
        "conversation_id": conversation.pk,
        "message_id": message.pk,
        "status": "failed",
    }
    assert message.status == DeliveryStatus.FAILED
    assert message.failure_reason.startswith("the file is infected (Eicar-Test-Signature")
    assert message.failure_reason.endswith("and was not sent")
    assert fake_provider.uploads == [] and fake_provider.sent == []
    attachment = message.attachments.get()
    assert attachment.scan_status == Attachment.ScanStatus.INFECTED
    assert not attachment.file
    detection = MalwareDetection.objects.get(message=message)
    assert (detection.direction, detection.kind, detection.filename) == (
        "out",
        "whatsapp",
        "invoice.txt",
    )
    assert detection.signature.startswith("Eicar-Test-Signature")
    assert detection.tenant_id == conversation.tenant_id


def test_a_file_of_a_type_the_channel_does_not_take_is_refused_before_it_is_stored(
    send_file, conversation, fake_provider
):
    with pytest.raises(SendRefused) as refused:
        send_file(conversation, ELF, "holiday.jpg")

    assert "does not take files of type application/x-executable" in refused.value.messages[0]
    assert not Message.objects.filter(conversation=conversation).exists()
    assert not Attachment.objects.exists()
    assert fake_provider.sent == []


def test_a_file_over_the_channel_templates_size_is_refused(send_file, conversation):
    template = ChannelTemplate.default_for(tenant=conversation.tenant, kind="whatsapp")
    template.max_bytes = 64
    template.save()

    with pytest.raises(SendRefused) as refused:
        send_file(conversation, PNG + b"\0" * 100, "big.png")

    assert "takes files up to 64 bytes" in refused.value.messages[0]
    assert not Attachment.objects.exists()


def test_a_file_outside_the_whatsapp_window_is_refused(send_file, whatsapp_asset, agent):
    stale = ConversationFactory(
        asset=whatsapp_asset, owner=agent, last_inbound_at=timezone.now() - timedelta(days=2)
    )

    with pytest.raises(SendRefused) as refused:
        send_file(stale, PNG, "a.png")

    assert "24 hours" in refused.value.messages[0]


def test_without_a_scanner_files_are_refused_up_front(send_file, conversation, settings):
    settings.CLAMD_SOCKET = ""

    with pytest.raises(SendRefused) as refused:
        send_file(conversation, PNG, "a.png")

    assert "no malware scanner" in refused.value.messages[0]


def test_while_clamd_is_down_the_file_waits_unsent_and_goes_once_it_is_back(
    conversation, fake_provider, agent, private_clamd, django_capture_on_commit_callbacks
):
    message = services.message_send_file(
        conversation=conversation,
        data=PNG,
        filename="a.png",
        author_kind="agent",
        author_agent=agent,
    )
    private_clamd.stop()

    assert services.message_deliver(message_id=message.pk) == "retry"

    message.refresh_from_db()
    assert message.status == DeliveryStatus.PENDING
    assert "scanner is unavailable" in message.failure_reason
    assert message.attachments.get().scan_status == Attachment.ScanStatus.PENDING
    assert fake_provider.uploads == [] and fake_provider.sent == []

    private_clamd.start()
    assert services.message_deliver(message_id=message.pk) == "sent"
    assert message.attachments.get().scan_status == Attachment.ScanStatus.CLEAN
    assert len(fake_provider.sent_to("whatsapp")) == 1


def test_a_scanner_down_through_every_retry_fails_the_message_unsent(
    send_file, conversation, fake_provider, settings
):
    message = services.message_send_file(
        conversation=conversation, data=PNG, filename="a.png", author_kind="bot"
    )
    settings.CLAMD_SOCKET = "/nonexistent/clamd.sock"

    assert services.message_deliver(message_id=message.pk, final_attempt=True) == "failed"

    message.refresh_from_db()
    assert message.status == DeliveryStatus.FAILED
    assert "scanner is unavailable" in message.failure_reason
    assert fake_provider.sent == []


def test_a_messenger_caption_goes_first_as_its_own_text(
    send_file, messenger_asset, agent, fake_provider
):
    conversation = ConversationFactory(asset=messenger_asset, owner=agent)

    send_file(conversation, PNG, "a.png", caption="Here you go")

    first, second = fake_provider.sent_to("messenger")
    assert first["payload"]["message"] == {"text": "Here you go"}
    assert second["payload"]["message"]["attachment"]["type"] == "image"


def test_the_pending_scan_sweep_leaves_a_fresh_outbound_file_to_its_delivery(conversation, agent):
    from channels_app.services.attachments import attachments_requeue_pending_scans

    services.message_send_file(
        conversation=conversation,
        data=PNG,
        filename="a.png",
        author_kind="agent",
        author_agent=agent,
    )

    assert attachments_requeue_pending_scans() == 0


def test_a_file_the_sweep_found_infected_first_is_never_sent(conversation, agent, fake_provider):
    from channels_app.services.attachments import attachment_scan

    message = services.message_send_file(
        conversation=conversation,
        data=EICAR,
        filename="x.txt",
        author_kind="agent",
        author_agent=agent,
    )
    assert attachment_scan(attachment_id=message.attachments.get().pk) == "infected"

    assert services.message_deliver(message_id=message.pk) == "failed"

    message.refresh_from_db()
    assert message.failure_reason == "the file was not scanned clean and was not sent"
    assert MalwareDetection.objects.filter(message=message).count() == 1
    assert fake_provider.sent == [] and fake_provider.uploads == []
