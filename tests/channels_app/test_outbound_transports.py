"""Files and templates as each provider's API takes them, against the fake provider on loopback:
WhatsApp media upload then send by id, Messenger's attachment upload then send by attachment id,
Twilio fetching the file from our signed, expiring link."""

import hashlib
import time
from datetime import timedelta

import httpx
import pytest
import time_machine
from django.utils import timezone

from channels_app.media import attachment_file_store
from channels_app.models import Attachment, DeliveryStatus, Direction, Message
from channels_app.outbound_media import outbound_media_url
from channels_app.sandbox.fake_provider import _png
from channels_app.tasks import deliver_message
from tests.channels_app.conftest import TWILIO_ACCOUNT_SID, WA_BUSINESS_ACCOUNT_ID
from tests.factories import ConversationFactory

PNG = _png()
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def scanned_file_message(conversation, data: bytes, *, filename: str, caption: str = "") -> Message:
    """An outbound file message whose file has already been scanned clean."""
    message = Message.objects.create(
        tenant=conversation.tenant,
        conversation=conversation,
        asset=conversation.asset,
        direction=Direction.OUTBOUND,
        author_kind="agent",
        content_type="image" if data.startswith(b"\x89PNG") else "document",
        text=caption,
        content={"attachment": True, "caption": caption, "filename": filename},
        status=DeliveryStatus.PENDING,
    )
    attachment = Attachment(
        tenant=conversation.tenant,
        message=message,
        filename=filename,
        scan_status=Attachment.ScanStatus.CLEAN,
    )
    attachment_file_store(attachment=attachment, data=data)
    attachment.save()
    return message


@pytest.fixture
def deliver_now(django_capture_on_commit_callbacks):
    def run(message: Message) -> Message:
        with django_capture_on_commit_callbacks(execute=True):
            deliver_message.delay(message.pk)
        message.refresh_from_db()
        return message

    return run


def test_a_whatsapp_image_is_uploaded_as_media_then_sent_by_its_id(
    whatsapp_asset, fake_provider, deliver_now
):
    conversation = ConversationFactory(asset=whatsapp_asset, identity__address="4915112345678")
    message = deliver_now(
        scanned_file_message(
            conversation, PNG, filename="screenshot.png", caption="So sieht es aus"
        )
    )

    assert message.status == DeliveryStatus.SENT
    [upload] = fake_provider.uploads_to("whatsapp")
    assert upload["path"] == f"/whatsapp/{whatsapp_asset.wa_phone_number_id}/media"
    assert (upload["content_type"], upload["filename"]) == ("image/png", "screenshot.png")
    assert upload["sha256"] == hashlib.sha256(PNG).hexdigest()
    [record] = fake_provider.sent_to("whatsapp")
    assert record["payload"]["type"] == "image"
    assert record["payload"]["image"] == {"id": upload["id"], "caption": "So sieht es aus"}
    assert message.attachments.get().provider_media_id == upload["id"]


def test_a_whatsapp_document_keeps_its_file_name(whatsapp_asset, fake_provider, deliver_now):
    conversation = ConversationFactory(asset=whatsapp_asset)

    deliver_now(scanned_file_message(conversation, PDF, filename="Rechnung 42.pdf"))

    [record] = fake_provider.sent_to("whatsapp")
    assert record["payload"]["type"] == "document"
    assert record["payload"]["document"]["filename"] == "Rechnung 42.pdf"
    assert "caption" not in record["payload"]["document"]


def test_a_failed_upload_is_retried_and_the_file_is_uploaded_once(
    whatsapp_asset, fake_provider, deliver_now
):
    fake_provider.fail_next(status=503, kind="whatsapp")
    conversation = ConversationFactory(asset=whatsapp_asset)

    message = deliver_now(scanned_file_message(conversation, PNG, filename="a.png"))

    assert message.status == DeliveryStatus.SENT
    assert message.send_attempts == 2
    assert len(fake_provider.uploads_to("whatsapp")) == 1
    assert len(fake_provider.sent_to("whatsapp")) == 1


def test_a_messenger_file_goes_through_the_attachment_upload_api(
    messenger_asset, fake_provider, deliver_now
):
    conversation = ConversationFactory(asset=messenger_asset, identity__address="24023948750123")

    message = deliver_now(scanned_file_message(conversation, PDF, filename="offer.pdf"))

    assert message.status == DeliveryStatus.SENT
    [upload] = fake_provider.uploads_to("messenger")
    assert upload["path"] == "/messenger/me/message_attachments"
    assert upload["attachment_type"] == "file"
    assert upload["sha256"] == hashlib.sha256(PDF).hexdigest()
    [record] = fake_provider.sent_to("messenger")
    assert record["payload"]["recipient"] == {"id": "24023948750123"}
    assert record["payload"]["message"] == {
        "attachment": {"type": "file", "payload": {"attachment_id": upload["id"]}}
    }


def test_an_mms_names_a_signed_link_twilio_fetches_unauthenticated(
    sms_asset, fake_provider, deliver_now, client, settings
):
    settings.PUBLIC_BASE_URL = "http://testserver"
    conversation = ConversationFactory(asset=sms_asset, identity__address="+4915112345678")

    message = deliver_now(
        scanned_file_message(conversation, PNG, filename="map.png", caption="Hier")
    )

    assert message.status == DeliveryStatus.SENT
    [record] = fake_provider.sent_to("sms")
    assert record["path"] == f"/sms/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Messages.json"
    assert record["payload"]["Body"] == "Hier"
    [url] = record["payload"]["MediaUrl"]
    assert url.startswith("http://testserver/media/out/")
    response = client.get(url.removeprefix("http://testserver"))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_signed_link_dies_after_its_lifetime_and_when_tampered_with(
    sms_asset, fake_provider, client, settings
):
    settings.PUBLIC_BASE_URL = "http://testserver"
    message = scanned_file_message(ConversationFactory(asset=sms_asset), PNG, filename="a.png")
    path = outbound_media_url(attachment=message.attachments.get()).removeprefix(
        "http://testserver"
    )

    assert client.get(path[:-3] + "xyz/").status_code == 404
    with time_machine.travel(timezone.now() + timedelta(hours=3)):
        assert client.get(path).status_code == 404


@pytest.mark.parametrize(
    "scan_status", [Attachment.ScanStatus.PENDING, Attachment.ScanStatus.INFECTED]
)
def test_the_signed_link_serves_only_a_clean_file(
    sms_asset, fake_provider, client, settings, scan_status
):
    settings.PUBLIC_BASE_URL = "http://testserver"
    message = scanned_file_message(ConversationFactory(asset=sms_asset), PNG, filename="a.png")
    attachment = message.attachments.get()
    Attachment.objects.filter(pk=attachment.pk).update(scan_status=scan_status)

    path = outbound_media_url(attachment=attachment).removeprefix("http://testserver")

    assert client.get(path).status_code == 404


def test_an_inbound_attachment_has_no_signed_link(sms_asset, fake_provider, client, settings):
    settings.PUBLIC_BASE_URL = "http://testserver"
    message = scanned_file_message(ConversationFactory(asset=sms_asset), PNG, filename="a.png")
    Message.objects.filter(pk=message.pk).update(direction=Direction.INBOUND)

    path = outbound_media_url(attachment=message.attachments.get()).removeprefix(
        "http://testserver"
    )

    assert client.get(path).status_code == 404


# --- the fake provider answers like the real APIs ----------------------------------------------


def test_the_fake_lists_message_templates_in_pages_like_the_graph_api(
    whatsapp_asset, fake_provider
):
    url = f"{fake_provider.base_url}/whatsapp/{WA_BUSINESS_ACCOUNT_ID}/message_templates"
    headers = {"Authorization": "Bearer token"}

    first = httpx.get(url, params={"limit": 2}, headers=headers).json()
    rest = httpx.get(
        url, params={"limit": 100, "after": first["paging"]["cursors"]["after"]}, headers=headers
    ).json()

    assert len(first["data"]) == 2 and "next" in first["paging"]
    assert "next" not in rest["paging"]
    names = {(t["name"], t["language"], t["status"]) for t in first["data"] + rest["data"]}
    assert ("order_update", "de_DE", "APPROVED") in names
    assert ("spring_sale", "en_US", "REJECTED") in names
    order = next(t for t in first["data"] + rest["data"] if t["name"] == "order_update")
    assert order["components"][0] == {
        "type": "BODY",
        "text": "Hi {{1}}, your order {{2}} has shipped and arrives on {{3}}.",
    }


@pytest.mark.parametrize(
    ("template", "code"),
    [
        ({"name": "order_update", "language": {"code": "en_US"}}, 132000),
        ({"name": "order_update", "language": {"code": "fr_FR"}}, 132001),
        ({"name": "spring_sale", "language": {"code": "en_US"}}, 132001),
    ],
)
def test_the_fake_refuses_a_template_send_the_cloud_api_would_refuse(
    whatsapp_asset, fake_provider, template, code
):
    response = httpx.post(
        f"{fake_provider.base_url}/whatsapp/{whatsapp_asset.wa_phone_number_id}/messages",
        json={
            "messaging_product": "whatsapp",
            "to": "4915112345678",
            "type": "template",
            "template": template,
        },
        headers={"Authorization": "Bearer token"},
    )

    assert response.status_code in (400, 404)
    assert response.json()["error"]["code"] == code
    assert fake_provider.sent_to("whatsapp") == []


def test_the_fake_refuses_a_media_send_by_an_id_it_never_issued(whatsapp_asset, fake_provider):
    response = httpx.post(
        f"{fake_provider.base_url}/whatsapp/{whatsapp_asset.wa_phone_number_id}/messages",
        json={
            "messaging_product": "whatsapp",
            "to": "4915112345678",
            "type": "image",
            "image": {"id": "999"},
        },
        headers={"Authorization": "Bearer token"},
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == 131053


def test_the_fake_refuses_an_upload_without_messaging_product(whatsapp_asset, fake_provider):
    response = httpx.post(
        f"{fake_provider.base_url}/whatsapp/{whatsapp_asset.wa_phone_number_id}/media",
        data={"type": "image/png"},
        files={"file": ("a.png", PNG, "image/png")},
        headers={"Authorization": "Bearer token"},
    )

    assert response.status_code == 400
    assert "messaging_product" in response.json()["error"]["message"]
    assert fake_provider.uploads == []


def _fetched(record: dict) -> list[dict]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not record.get("media_fetched"):
        time.sleep(0.05)
    return record.get("media_fetched", [])


def _mms(fake_provider, media_url: str) -> dict:
    response = httpx.post(
        f"{fake_provider.base_url}/sms/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Messages.json",
        data={"To": "+4915112345678", "From": "+15005550006", "MediaUrl": media_url},
        auth=(TWILIO_ACCOUNT_SID, "token"),
    )
    assert response.status_code == 201
    [record] = fake_provider.sent_to("sms")
    return record


def test_the_fake_fetches_a_media_url_after_accepting_the_mms(fake_provider):
    record = _mms(fake_provider, f"{fake_provider.base_url}/sms/media/sample-image/download")

    [fetched] = _fetched(record)

    assert fetched["status"] == 200
    [upload] = fake_provider.uploads_to("sms")
    assert upload["content_type"] == "image/png"


def test_the_fakes_media_url_fetch_goes_through_the_outbound_guard(fake_provider):
    record = _mms(fake_provider, "http://169.254.169.254/latest/meta-data/")

    [fetched] = _fetched(record)

    assert fetched["status"] is None and "169.254.169.254" in fetched["error"]
    assert fake_provider.uploads_to("sms") == []
