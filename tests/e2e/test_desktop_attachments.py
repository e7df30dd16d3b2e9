"""Sending files and WhatsApp templates from the agent desktop, in real Chromium against the real
ASGI server, clamd and the fake provider on loopback, at a laptop's and a phone's width."""

import hashlib
import struct
import time
import zlib
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from channels_app.models import Attachment, ChannelTemplate, Conversation, Message
from channels_app.sandbox.customer import customer_webhook
from tests.e2e.conftest import post_webhook, screenshot

pytestmark = pytest.mark.e2e


def picture(width: int = 160, height: int = 100) -> bytes:
    """A small RGB PNG with a gradient, big enough to see in a screenshot."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(
        b"\x00" + bytes(v for x in range(width) for v in (x * 255 // width, 120, y * 255 // height))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PNG = picture()


def wait_until(predicate, timeout: float = 15.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def accepted_conversation(page, contact_center, live, *, sender: str, name: str, text: str):
    page.select_option("#state-select", "available")
    expect(page.locator("#state-badge")).to_have_text("available")
    post_webhook(
        customer_webhook(
            contact_center.asset, base_url=live.url, sender=sender, text=text, name=name
        )
    )
    page.locator(".offer button.accept").click(timeout=15000)
    expect(page.locator("#transcript")).to_contain_text(text)
    return Conversation.objects.get(customer__display_name=name)


def drop_or_paste_script(kind: str) -> str:
    # Builds the file in the page and fires the same event a real drop or paste fires.
    return """([bytes, name]) => {
          const file = new File([new Uint8Array(bytes)], name, { type: "image/png" });
          const data = new DataTransfer();
          data.items.add(file);
          const target = document.querySelector(%s);
          const event = %s;
          target.dispatchEvent(event);
        }""" % (
        '"#transcript"' if kind == "drop" else '"#composer textarea"',
        'new DragEvent("drop", { bubbles: true, cancelable: true, dataTransfer: data })'
        if kind == "drop"
        else 'new ClipboardEvent("paste", { bubbles: true, cancelable: true, clipboardData: data })',
    )


@pytest.mark.parametrize("width", [1024, 390])
def test_an_agent_attaches_an_image_and_the_fake_provider_receives_it(
    contact_center, live, page_for, fake_provider, width
):
    page = page_for(contact_center.first.user)
    page.set_viewport_size({"width": width, "height": 800})
    conversation = accepted_conversation(
        page,
        contact_center,
        live,
        sender=f"49151000{width}",
        name=f"Gabi Bild {width}",
        text="Können Sie mir ein Foto schicken?",
    )

    page.fill("#composer textarea", "So sieht es aus")
    page.set_input_files(
        "#composer input[type=file]",
        files=[{"name": "photo.png", "mimeType": "image/png", "buffer": PNG}],
    )

    upload = wait_until(lambda: fake_provider.uploads_to("whatsapp"))[0]
    assert upload["sha256"] == hashlib.sha256(PNG).hexdigest()
    sent = wait_until(
        lambda: [
            r for r in fake_provider.sent_to("whatsapp") if r["payload"].get("type") == "image"
        ]
    )
    assert sent[0]["payload"]["image"] == {"id": upload["id"], "caption": "So sieht es aus"}
    assert sent[0]["payload"]["to"] == f"49151000{width}"
    bubble = page.locator("#transcript li.message.out").filter(has_text="So sieht es aus")
    expect(bubble.locator(".status")).to_have_text("sent", timeout=15000)
    expect(page.locator("#composer textarea")).to_have_value("")
    attachment = Attachment.objects.get(message__conversation=conversation)
    assert attachment.scan_status == "clean"
    screenshot(page, f"desktop-attachment-sent-{width}")


def test_drop_and_paste_send_images_and_a_refused_file_never_leaves_the_browser(
    contact_center, live, page_for, fake_provider
):
    page = page_for(contact_center.first.user)
    page.set_viewport_size({"width": 1024, "height": 800})
    conversation = accepted_conversation(
        page,
        contact_center,
        live,
        sender="4915100000031",
        name="Hanna Drop",
        text="Bitte das Bild",
    )

    page.evaluate(drop_or_paste_script("drop"), [list(PNG), "dropped.png"])
    page.evaluate(drop_or_paste_script("paste"), [list(PNG), "pasted.png"])
    names = wait_until(
        lambda: (
            sorted(
                Attachment.objects.filter(
                    message__conversation=conversation, message__status="sent"
                ).values_list("filename", flat=True)
            )
            if Message.objects.filter(
                conversation=conversation, status="sent", content_type="image"
            ).count()
            == 2
            else None
        )
    )
    assert names == ["dropped.png", "pasted.png"]

    # Too large for the channel: refused in the browser with the reason, nothing uploaded.
    template = ChannelTemplate.default_for(tenant=contact_center.tenant, kind="whatsapp")
    template.max_bytes = len(PNG) + 1024
    template.save()
    page.reload()
    page.locator(".conversation-item").first.click()
    expect(page.locator("#composer")).to_have_attribute("data-max-bytes", str(len(PNG) + 1024))
    uploads_before = len(fake_provider.uploads)
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.set_input_files(
        "#composer input[type=file]",
        files=[{"name": "huge.png", "mimeType": "image/png", "buffer": PNG + b"\0" * 200_000}],
    )
    expect(page.locator("#toast")).to_contain_text("; WhatsApp takes files up to")
    page.set_input_files(
        "#composer input[type=file]",
        files=[
            {
                "name": "setup.exe",
                "mimeType": "application/x-msdownload",
                "buffer": b"MZ" + b"\0" * 64,
            }
        ],
    )
    expect(page.locator("#toast")).to_contain_text("setup.exe (application/x-msdownload) is a type")
    screenshot(page, "desktop-attachment-refused")
    assert not [url for url in requests if "/attachments/" in url]
    assert len(fake_provider.uploads) == uploads_before
    assert Attachment.objects.filter(message__conversation=conversation).count() == 2


@pytest.mark.parametrize("width", [1024, 390])
def test_a_whatsapp_conversation_past_24_hours_offers_the_template_picker_and_the_template_goes_out(
    contact_center, live, page_for, fake_provider, width
):
    page = page_for(contact_center.first.user)
    page.set_viewport_size({"width": width, "height": 800})
    refused = []
    page.on(
        "console",
        lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
    )
    conversation = accepted_conversation(
        page,
        contact_center,
        live,
        sender=f"49151777{width}",
        name=f"Ida Später {width}",
        text="Wo ist meine Bestellung?",
    )
    Conversation.objects.filter(asset=conversation.asset, identity=conversation.identity).update(
        last_inbound_at=timezone.now() - timedelta(hours=25)
    )

    page.reload()
    page.locator(".conversation-item").first.click()
    expect(page.locator(".window-note")).to_contain_text("more than 24 hours ago")
    expect(page.locator("#composer textarea")).to_be_disabled()
    picker = page.locator("#template-picker")
    expect(picker).to_be_visible()
    expect(picker.locator("#template-select option")).not_to_have_count(1)
    picker.locator("#template-select").select_option(label="order_update · de_DE · utility")
    expect(picker.locator(".template-body")).to_contain_text("Hallo {{1}}, Ihre Bestellung {{2}}")
    inputs = picker.locator("[data-param]")
    expect(inputs).to_have_count(3)
    for value, box in zip(("Ida", "A-1042", "Freitag"), inputs.all(), strict=True):
        box.fill(value)
    screenshot(page, f"desktop-template-picker-{width}")
    picker.locator(".template-send").click()

    sent = wait_until(
        lambda: [
            r for r in fake_provider.sent_to("whatsapp") if r["payload"].get("type") == "template"
        ]
    )
    assert sent[0]["payload"]["to"] == f"49151777{width}"
    assert sent[0]["payload"]["template"]["name"] == "order_update"
    assert sent[0]["payload"]["template"]["language"] == {"code": "de_DE"}
    assert [p["text"] for p in sent[0]["payload"]["template"]["components"][0]["parameters"]] == [
        "Ida",
        "A-1042",
        "Freitag",
    ]
    expect(page.locator("#transcript")).to_contain_text(
        "Hallo Ida, Ihre Bestellung A-1042 ist unterwegs und kommt am Freitag an."
    )
    screenshot(page, f"desktop-template-sent-{width}")
    assert refused == []
