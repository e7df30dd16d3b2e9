"""The email channel fed by a mail service's signed webhook (Mailgun's scheme): raw MIME in, stored
once by Message-ID, normalized like any provider event; machines' mails never start anything."""

import time

import pytest

from channels_app.models import (
    Attachment,
    Conversation,
    ConversationLink,
    DeliveryStatus,
    Direction,
    InboundEvent,
    Message,
)
from channels_app.services import conversation_close
from tests.channels_app.conftest import webhook_url
from tests.channels_app.email_support import PNG, bounce, mail, signed_form
from tests.factories import MessageFactory


@pytest.fixture
def post_mail(client, django_capture_on_commit_callbacks):
    def post(asset, raw: bytes, **signing):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(webhook_url(asset), data=signed_form(raw, **signing))

    return post


def test_a_signed_mail_is_stored_once_and_opens_a_conversation(post_mail, webhook_asset):
    raw = mail(message_id="first@example.org")

    response = post_mail(webhook_asset, raw)
    again = post_mail(webhook_asset, raw)

    assert response.status_code == 200
    assert again.status_code == 200
    event = InboundEvent.objects.get()
    assert event.provider_event_id == "first@example.org"
    assert event.status == InboundEvent.Status.PROCESSED
    message = Message.objects.get()
    assert message.text == "Hello, where is my parcel?"
    assert message.provider_message_id == "first@example.org"
    assert message.content["subject"] == "Parcel 4711"
    conversation = message.conversation
    assert conversation.kind == "email"
    assert conversation.identity.address == "erika@example.org"
    assert conversation.customer.display_name == "Erika Mustermann"


def test_a_forged_signature_is_refused_and_nothing_is_stored(post_mail, webhook_asset):
    response = post_mail(webhook_asset, mail(), key="key-not-the-right-one")

    assert response.status_code == 403
    assert InboundEvent.objects.count() == 0
    assert Message.objects.count() == 0


def test_a_replayed_post_is_refused(client, webhook_asset):
    form = signed_form(mail(message_id="replayed@example.org"))
    assert client.post(webhook_url(webhook_asset), data=form).status_code == 200

    # The same signed request captured and posted again, even with another mail inside.
    form["body-mime"] = mail(message_id="smuggled@example.org").decode()
    replay = client.post(webhook_url(webhook_asset), data=form)

    assert replay.status_code == 403
    assert list(InboundEvent.objects.values_list("provider_event_id", flat=True)) == [
        "replayed@example.org"
    ]


def test_the_same_signed_mail_posted_again_is_taken_and_stored_once(client, webhook_asset):
    """A provider's retry: our answer was lost, or we failed after checking the signature and
    before storing the mail; refusing it would lose the mail."""
    form = signed_form(mail(message_id="retried@example.org"))
    assert client.post(webhook_url(webhook_asset), data=form).status_code == 200

    again = client.post(webhook_url(webhook_asset), data=form)

    assert again.status_code == 200
    assert list(InboundEvent.objects.values_list("provider_event_id", flat=True)) == [
        "retried@example.org"
    ]


def test_a_post_signed_long_ago_is_refused(post_mail, webhook_asset):
    response = post_mail(webhook_asset, mail(), timestamp=int(time.time()) - 3600)

    assert response.status_code == 403
    assert InboundEvent.objects.count() == 0


def test_a_post_without_the_raw_mime_is_a_clear_400(client, webhook_asset):
    form = signed_form(b"")
    del form["body-mime"]
    form["body-plain"] = "Hello"

    response = client.post(webhook_url(webhook_asset), data=form)

    assert response.status_code == 400
    assert "body-mime" in response.json()["reason"]
    assert InboundEvent.objects.get().status == InboundEvent.Status.DEAD


def test_html_mail_is_sanitized_and_keeps_its_table_and_text_part(post_mail, webhook_asset):
    html = (
        "<html><head><style>p{color:red}</style></head><body>"
        "<p onclick='steal()'>Order <b>4711</b>:</p>"
        "<table><tr><th>Item</th><td>Shoes</td></tr></table>"
        "<script>alert('pwned')</script>"
        "<a href='javascript:alert(1)'>bad</a> <a href='https://acme.test/track'>track</a>"
        "<img src='https://tracker.example/pixel.gif'></body></html>"
    )

    post_mail(webhook_asset, mail(text="Order 4711: Shoes", html=html))

    message = Message.objects.get()
    stored = message.content["html"]
    assert "<table>" in stored and "<td>Shoes</td>" in stored
    assert "script" not in stored and "alert" not in stored
    assert "onclick" not in stored and "javascript:" not in stored
    assert 'href="https://acme.test/track"' in stored
    assert message.text == "Order 4711: Shoes"


def test_an_inline_image_and_an_attachment_become_attachments(post_mail, webhook_asset):
    raw = mail(
        html='<p>Our logo: <img src="cid:logo@acme"></p>',
        inline_png="logo@acme",
        attachment=("invoice.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf"),
    )

    post_mail(webhook_asset, raw)

    message = Message.objects.get()
    attachments = {a.filename: a for a in message.attachments.all()}
    assert set(attachments) == {"logo.png", "invoice.pdf"}
    logo = attachments["logo.png"]
    assert logo.file.read() == PNG
    assert logo.declared_content_type == "image/png"
    assert message.content["inline"] == {"logo@acme": logo.provider_media_id}
    assert attachments["invoice.pdf"].size == len(b"%PDF-1.4\n%%EOF\n")


def test_a_reply_joins_its_conversation(post_mail, webhook_asset):
    post_mail(webhook_asset, mail(message_id="m1@example.org"))

    post_mail(
        webhook_asset,
        mail(
            text="Any news?\n\nOn Mon, Erika wrote:\n> Hello, where is my parcel?",
            subject="Re: Parcel 4711",
            message_id="m2@example.org",
            in_reply_to="m1@example.org",
            references=["m1@example.org"],
        ),
    )

    first, second = Message.objects.order_by("pk")
    assert second.conversation_id == first.conversation_id
    assert second.reply_to_id == first.pk
    assert second.text == "Any news?"
    assert second.content["quoted_text"].startswith("On Mon, Erika wrote:")


def test_a_reply_to_a_closed_conversation_opens_a_new_one_linked_to_it(post_mail, webhook_asset):
    post_mail(webhook_asset, mail(message_id="old@example.org"))
    old = Conversation.objects.get()
    conversation_close(conversation=old, reason="resolved")

    post_mail(
        webhook_asset,
        mail(
            subject="Re: Parcel 4711", message_id="new@example.org", in_reply_to="old@example.org"
        ),
    )

    new = Conversation.objects.exclude(pk=old.pk).get()
    assert new.status == Conversation.Status.OPEN
    assert ConversationLink.objects.get(conversation=new).previous == old


def test_auto_replies_never_start_a_conversation(post_mail, webhook_asset):
    for headers in (
        {"Auto-Submitted": "auto-replied"},
        {"Precedence": "bulk"},
        {"X-Autoreply": "yes"},
    ):
        post_mail(webhook_asset, mail(subject="Out of office", headers=headers))

    assert Conversation.objects.count() == 0
    assert Message.objects.count() == 0
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {
        InboundEvent.Status.IGNORED
    }


def test_a_bounce_marks_our_mail_failed_and_starts_nothing(post_mail, webhook_asset):
    post_mail(webhook_asset, mail(message_id="q@example.org"))
    ours = MessageFactory(
        conversation=Conversation.objects.get(),
        direction=Direction.OUTBOUND,
        author_kind="agent",
        provider_message_id="reply-1@acme.test",
        status=DeliveryStatus.SENT,
    )

    post_mail(webhook_asset, bounce(original_message_id="reply-1@acme.test"))

    ours.refresh_from_db()
    assert ours.status == DeliveryStatus.FAILED
    assert "5.1.1" in ours.failure_reason and "user unknown" in ours.failure_reason
    assert Conversation.objects.count() == 1
    assert Message.objects.filter(direction=Direction.INBOUND).count() == 1


def test_a_sender_flood_is_rate_limited_per_address(post_mail, webhook_asset, settings):
    settings.EMAIL_FLOOD_MAX_PER_ADDRESS = 3

    for _ in range(5):
        post_mail(webhook_asset, mail())
    post_mail(webhook_asset, mail(sender="someone.else@example.org"))

    assert Message.objects.filter(conversation__identity__address="erika@example.org").count() == 3
    assert (
        Message.objects.filter(conversation__identity__address="someone.else@example.org").count()
        == 1
    )
    assert InboundEvent.objects.filter(status=InboundEvent.Status.IGNORED).count() == 2


def test_mail_with_a_mime_part_that_is_not_utf8_is_kept_byte_for_byte(post_mail, webhook_asset):
    raw = (
        b"From: jose@example.org\r\nTo: hello@acme.test\r\nSubject: Pedido\r\n"
        b"Message-ID: <latin@example.org>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        b"\xbfD\xf3nde est\xe1 mi pedido?\r\n"
    )

    post_mail(webhook_asset, raw)

    assert Message.objects.get().text == "¿Dónde está mi pedido?"
    assert Attachment.objects.count() == 0


def test_a_broken_multipart_body_is_refused_without_an_error(client, webhook_asset):
    response = client.post(
        webhook_url(webhook_asset),
        data=b"--x\r\nContent-Disposition: form-data\r\n\r\nno name, no end",
        content_type="multipart/form-data; boundary=x",
    )

    assert response.status_code == 403
    assert InboundEvent.objects.count() == 0
