"""Inbound attachments end to end: typed by their bytes, checked against the channel template,
scanned by the real clamd after commit, and served only through the authorized downloads."""

import json
import os

import pytest
from django.core.files.storage import default_storage
from django.test import Client

from channels_app.models import (
    Attachment,
    ChannelKind,
    ChannelTemplate,
    MalwareDetection,
    Message,
)
from channels_app.services.attachments import attachments_requeue_pending_scans
from tests.channels_app.conftest import load_fixture
from tests.clamd import EICAR

# Where each channel's "image" fixture takes its media from on the fake provider.
MEDIA_KEY = {
    ChannelKind.WHATSAPP: "1479537139650973",
    ChannelKind.MESSENGER: "sample-image",
    ChannelKind.SMS: "sample-image",
}
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
# A Windows executable (MZ header, PE signature) sent as a photo.
EXE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
    + b"\x00" * 44
    + b"\x80\x00\x00\x00"
)
EXE += b"\x00" * (0x80 - len(EXE)) + b"PE\x00\x00" + b"\x00" * 200


@pytest.fixture
def asset_of(request, whatsapp_asset, messenger_asset, sms_asset):
    return {
        ChannelKind.WHATSAPP: whatsapp_asset,
        ChannelKind.MESSENGER: messenger_asset,
        ChannelKind.SMS: sms_asset,
    }


def receive(deliver, fake_provider, asset, content: bytes, declared="image/jpeg", name="a.jpg"):
    """The customer sends `content` as a photo on the asset's channel; returns its attachment."""
    fake_provider.media[MEDIA_KEY[asset.kind]] = (content, declared, name)
    payload = load_fixture(
        {"whatsapp": "whatsapp", "messenger": "messenger", "sms": "sms"}[asset.kind],
        {"whatsapp": "image", "messenger": "image", "sms": "mms"}[asset.kind],
        MEDIA_BASE=fake_provider.base_url,
    )
    assert deliver(asset, payload).status_code == 200
    return Message.objects.latest("id").attachments.get()


def owned_by(attachment, agent):
    conversation = attachment.message.conversation
    conversation.owner = agent
    conversation.save(update_fields=["owner"])


def downloads(attachment, *, agent, owner) -> dict[str, int]:
    """What each place that serves files answers for this attachment."""
    conversation = attachment.message.conversation
    answers = {}
    for name, user, url in (
        ("desktop", agent.user, f"/desktop/attachments/{attachment.pk}/"),
        # A tenant admin sees every conversation in the care console.
        ("console", owner, f"/care/attachments/{attachment.pk}/"),
        (
            "api",
            owner,
            f"/api/v1/conversations/{conversation.pk}/attachments/{attachment.pk}/download/",
        ),
    ):
        client = Client()
        client.force_login(user)
        answers[name] = client.get(url).status_code
    return answers


@pytest.mark.parametrize("kind", [ChannelKind.WHATSAPP, ChannelKind.MESSENGER, ChannelKind.SMS])
def test_eicar_is_dropped_shown_as_unknown_never_downloadable_and_audited(
    deliver, fake_provider, asset_of, kind, agent, owner
):
    attachment = receive(deliver, fake_provider, asset_of[kind], EICAR, name="holiday.jpg")

    attachment.refresh_from_db()
    assert attachment.scan_status == Attachment.ScanStatus.INFECTED
    assert attachment.scan_signature.startswith("Eicar-Test-Signature")
    assert not attachment.file and attachment.filename == ""
    detection = MalwareDetection.objects.get()
    assert (detection.tenant, detection.kind, detection.direction, detection.content_type) == (
        attachment.tenant,
        kind,
        "in",
        "text/plain",
    )
    assert detection.attachment == attachment
    assert detection.size == len(EICAR) and len(detection.sha256) == 64
    # The message itself is delivered.
    assert attachment.message.conversation.kind == kind

    owned_by(attachment, agent)
    assert downloads(attachment, agent=agent, owner=owner) == {
        "desktop": 404,
        "console": 404,
        "api": 404,
    }
    desktop = Client()
    desktop.force_login(agent.user)
    page = desktop.get(f"/desktop/conversations/{attachment.message.conversation_id}/")
    assert "unknown file" in page.content.decode()
    assert f"/desktop/attachments/{attachment.pk}/" not in page.content.decode()


def test_an_infected_files_bytes_are_deleted_from_storage(deliver, fake_provider, whatsapp_asset):
    before = _stored_files()

    receive(deliver, fake_provider, whatsapp_asset, EICAR)

    assert _stored_files() == before


def test_a_clean_files_bytes_stay_in_storage(deliver, fake_provider, whatsapp_asset):
    before = _stored_files()

    attachment = receive(deliver, fake_provider, whatsapp_asset, PNG)

    assert _stored_files() - before == {attachment.file.path}


def test_an_infected_file_is_unknown_in_the_api_and_the_exports(
    deliver, fake_provider, whatsapp_asset, owner, api_as
):
    attachment = receive(deliver, fake_provider, whatsapp_asset, EICAR, name="holiday.jpg")
    conversation = attachment.message.conversation

    body = api_as(owner).get(f"/api/v1/conversations/{conversation.pk}/").json()
    shown = body["messages"][0]["attachments"][0]
    assert shown["filename"] == "unknown file"
    assert shown["url"] is None
    assert shown["scan_status"] == "infected"
    assert shown["detected_content_type"] == ""

    client = Client()
    client.force_login(owner)
    exported = client.get(f"/care/conversations/{conversation.pk}/export.json")
    assert exported.status_code == 200
    text = b"".join(exported.streaming_content) if exported.streaming else exported.content
    found = json.loads(text)
    data = found[0] if isinstance(found, list) else found
    assert data["messages"][0]["attachments"] == [
        {
            "filename": "unknown file",
            "content_type": "",
            "size": 0,
            "scan_status": "infected",
            "refused_reason": "",
        }
    ]
    assert "holiday" not in text.decode()


def test_a_clean_file_is_downloadable_with_safe_headers(
    deliver, fake_provider, whatsapp_asset, agent, owner, api_as
):
    attachment = receive(deliver, fake_provider, whatsapp_asset, PNG, name="photo.jpg")
    owned_by(attachment, agent)

    attachment.refresh_from_db()
    assert attachment.scan_status == Attachment.ScanStatus.CLEAN
    assert attachment.scanned_at is not None
    assert downloads(attachment, agent=agent, owner=owner) == {
        "desktop": 200,
        "console": 200,
        "api": 200,
    }
    client = Client()
    client.force_login(agent.user)
    response = client.get(f"/desktop/attachments/{attachment.pk}/")
    # Typed by its bytes (a PNG), not by what the sender declared (image/jpeg).
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("inline")
    assert b"".join(response.streaming_content) == PNG
    api_url = (
        api_as(owner)
        .get(f"/api/v1/conversations/{attachment.message.conversation_id}/")
        .json()["messages"][0]["attachments"][0]["url"]
    )
    assert api_url.endswith(
        f"/api/v1/conversations/{attachment.message.conversation_id}"
        f"/attachments/{attachment.pk}/download/"
    )


def test_a_document_is_served_as_a_download(deliver, fake_provider, whatsapp_asset, agent):
    attachment = receive(
        deliver, fake_provider, whatsapp_asset, b"%PDF-1.4\n%\xe2\xe3\n", name="i.pdf"
    )
    owned_by(attachment, agent)
    client = Client()
    client.force_login(agent.user)

    response = client.get(f"/desktop/attachments/{attachment.pk}/")

    assert response["Content-Type"] == "application/pdf"
    # WhatsApp gives no name for this document: a name of ours, with the real type's extension.
    assert (
        response["Content-Disposition"] == f'attachment; filename="attachment-{attachment.pk}.pdf"'
    )
    assert response["X-Content-Type-Options"] == "nosniff"


def test_an_outsider_never_downloads_another_tenants_clean_file(
    deliver, fake_provider, whatsapp_asset, outsider, api_as
):
    attachment = receive(deliver, fake_provider, whatsapp_asset, PNG)
    conversation = attachment.message.conversation
    client = Client()
    client.force_login(outsider)

    assert client.get(f"/care/attachments/{attachment.pk}/").status_code in (403, 404)
    assert client.get(f"/desktop/attachments/{attachment.pk}/").status_code in (403, 404)
    response = api_as(outsider).get(
        f"/api/v1/conversations/{conversation.pk}/attachments/{attachment.pk}/download/"
    )
    assert response.status_code == 404


@pytest.mark.parametrize("kind", [ChannelKind.WHATSAPP, ChannelKind.MESSENGER, ChannelKind.SMS])
def test_an_executable_renamed_jpg_is_refused_by_its_real_type(
    deliver, fake_provider, asset_of, kind, agent, owner
):
    attachment = receive(deliver, fake_provider, asset_of[kind], EXE, name="cat.jpg")

    assert attachment.detected_content_type == "application/x-msdownload"
    assert "does not take files of type application/x-msdownload" in attachment.refused_reason
    assert not attachment.file
    # The message is still delivered, and the desktop says why the file is not there.
    owned_by(attachment, agent)
    assert downloads(attachment, agent=agent, owner=owner) == {
        "desktop": 404,
        "console": 404,
        "api": 404,
    }
    client = Client()
    client.force_login(agent.user)
    page = client.get(f"/desktop/conversations/{attachment.message.conversation_id}/")
    assert "not taken" in page.content.decode()


def test_a_file_over_the_templates_size_is_refused_with_the_reason(
    deliver, fake_provider, whatsapp_asset
):
    template = ChannelTemplate.default_for(tenant=whatsapp_asset.tenant, kind="whatsapp")
    template.max_bytes = 50
    template.save()

    attachment = receive(deliver, fake_provider, whatsapp_asset, PNG)

    assert attachment.refused_reason == (
        f"The file is {len(PNG)} bytes; WhatsApp takes files up to 50 bytes."
    )
    assert attachment.size == len(PNG)
    assert not attachment.file
    assert attachment.message.status == "received"


def test_files_wait_while_clamd_is_down_and_pass_once_it_is_back(
    deliver,
    fake_provider,
    whatsapp_asset,
    private_clamd,
    agent,
    owner,
    django_capture_on_commit_callbacks,
):
    private_clamd.stop()

    attachment = receive(deliver, fake_provider, whatsapp_asset, PNG)
    owned_by(attachment, agent)

    attachment.refresh_from_db()
    assert attachment.scan_status == Attachment.ScanStatus.PENDING
    assert attachment.file
    assert set(downloads(attachment, agent=agent, owner=owner).values()) == {404}
    health = Client().get("/healthz").json()
    assert health["status"] == "degraded"
    assert health["checks"]["scanner"]["status"] == "down"
    assert "1 attachment(s) wait" in health["checks"]["scanner"]["detail"]

    private_clamd.start()
    # The task's retries ran out while clamd was down: the sweep queues the scan again.
    Attachment.objects.filter(pk=attachment.pk).update(scan_queued_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        assert attachments_requeue_pending_scans() == 1

    attachment.refresh_from_db()
    assert attachment.scan_status == Attachment.ScanStatus.CLEAN
    assert set(downloads(attachment, agent=agent, owner=owner).values()) == {200}
    assert Client().get("/healthz").json()["checks"]["scanner"]["status"] == "ok"


def test_the_sweep_leaves_recently_queued_scans_alone(deliver, fake_provider, whatsapp_asset):
    attachment = receive(deliver, fake_provider, whatsapp_asset, PNG)
    Attachment.objects.filter(pk=attachment.pk).update(scan_status="pending")

    assert attachments_requeue_pending_scans() == 0


def test_without_a_scanner_files_are_not_scanned_and_withheld(
    deliver, fake_provider, whatsapp_asset, settings, agent, owner
):
    settings.CLAMD_SOCKET = ""

    attachment = receive(deliver, fake_provider, whatsapp_asset, PNG)
    owned_by(attachment, agent)

    assert attachment.scan_status == Attachment.ScanStatus.NOT_SCANNED
    assert set(downloads(attachment, agent=agent, owner=owner).values()) == {404}
    assert Client().get("/healthz").json()["checks"]["scanner"]["status"] == "off"
    client = Client()
    client.force_login(agent.user)
    page = client.get(f"/desktop/conversations/{attachment.message.conversation_id}/")
    assert "not scanned: withheld" in page.content.decode()


def test_files_kept_unscanned_are_scanned_once_a_scanner_is_configured(
    deliver, fake_provider, whatsapp_asset, settings, django_capture_on_commit_callbacks
):
    scanner = settings.CLAMD_SOCKET
    settings.CLAMD_SOCKET = ""
    clean = receive(deliver, fake_provider, whatsapp_asset, PNG)
    assert attachments_requeue_pending_scans() == 0

    settings.CLAMD_SOCKET = scanner
    with django_capture_on_commit_callbacks(execute=True):
        assert attachments_requeue_pending_scans() == 1

    clean.refresh_from_db()
    assert clean.scan_status == Attachment.ScanStatus.CLEAN


def test_a_file_saved_by_a_store_that_rolled_back_is_removed(whatsapp_asset):
    from channels_app.providers.base import InboundMessage, Media, MediaRef
    from channels_app.services import inbound_message_store

    before = _stored_files()
    item = InboundMessage(
        provider_message_id="wamid.rollback",
        sender_address="4915112345678",
        sender_name="Kerry",
        content_type="image",
        text="",
    )
    # A provider media id longer than its column: the attachment row fails after its file was
    # written, and the whole store rolls back.
    ref = MediaRef(kind="image", media_id="9" * 300)

    with pytest.raises(Exception):
        inbound_message_store(
            asset=whatsapp_asset, item=item, downloads=[(ref, Media(content=PNG), "")]
        )

    assert not Message.objects.filter(provider_message_id="wamid.rollback").exists()
    assert _stored_files() == before


def _stored_files() -> set[str]:
    root = default_storage.path("attachments")
    found = set()
    for folder, _, names in os.walk(root):
        found.update(os.path.join(folder, n) for n in names)
    return found
