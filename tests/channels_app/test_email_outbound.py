"""Agents' email replies: multipart (text + HTML) over SMTP to a real server on loopback, threaded
under the customer's mail, and the customer's answer threading back into the conversation."""

import pytest

from channels_app.models import AuthorKind, Conversation, DeliveryStatus, Message
from channels_app.services import email_mailbox_poll, message_send
from tests.channels_app.email_support import ASSET_ADDRESS, mail


@pytest.fixture
def poll(django_capture_on_commit_callbacks):
    def run(asset) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return email_mailbox_poll(asset=asset)

    return run


@pytest.fixture
def reply(django_capture_on_commit_callbacks, agent):
    def send(conversation, text, **kwargs) -> Message:
        with django_capture_on_commit_callbacks(execute=True):
            message = message_send(
                conversation=conversation,
                text=text,
                author_kind=AuthorKind.AGENT,
                author_agent=agent,
                **kwargs,
            )
        message.refresh_from_db()
        return message

    return send


def test_an_agent_reply_is_threaded_and_the_answer_threads_back(
    poll, reply, email_asset, mailbox, smtp_server
):
    mailbox.append(
        mail(message_id="q1@example.org", subject="Parcel 4711", references=["older@example.org"])
    )
    poll(email_asset)
    conversation = Conversation.objects.get()

    sent = reply(conversation, "It left our warehouse today.")

    assert sent.status == DeliveryStatus.SENT
    envelope, received = smtp_server.messages[-1]
    assert envelope.rcpt_tos == ["erika@example.org"]
    assert received["Subject"] == "Re: Parcel 4711"
    assert received["In-Reply-To"] == "<q1@example.org>"
    assert received["References"] == "<older@example.org> <q1@example.org>"
    assert received["From"] == f"Acme Support <{ASSET_ADDRESS}>"
    assert received["Message-ID"] == f"<{sent.provider_message_id}>"
    assert received.get_body(("plain",)).get_content().strip() == "It left our warehouse today."
    assert "<p>It left our warehouse today.</p>" in received.get_body(("html",)).get_content()

    # The customer answers our mail: it lands in the same conversation.
    mailbox.append(
        mail(
            message_id="q2@example.org",
            subject="Re: Re: Parcel 4711",
            in_reply_to=sent.provider_message_id,
            references=["q1@example.org", sent.provider_message_id],
            text="Thanks!",
        )
    )
    poll(email_asset)

    answer = Message.objects.get(provider_message_id="q2@example.org")
    assert answer.conversation_id == conversation.pk
    assert answer.reply_to_id == sent.pk


def test_a_formatted_reply_with_cc_is_sanitized_and_keeps_its_formatting(
    reply, email_asset, smtp_server, client, django_capture_on_commit_callbacks
):
    from tests.channels_app.conftest import webhook_url
    from tests.channels_app.email_support import signed_form

    with django_capture_on_commit_callbacks(execute=True):
        client.post(webhook_url(email_asset), data=signed_form(mail(message_id="f@example.org")))
    conversation = Conversation.objects.get()

    reply(
        conversation,
        "Your order: shoes",
        content={
            "html": "<p><b>Your order</b>: <i>shoes</i></p><ul><li>one</li></ul>"
            "<script>alert(1)</script>",
            "cc": ["warehouse@acme.test"],
        },
    )

    envelope, received = smtp_server.messages[-1]
    assert sorted(envelope.rcpt_tos) == ["erika@example.org", "warehouse@acme.test"]
    assert received["Cc"] == "warehouse@acme.test"
    html = received.get_body(("html",)).get_content()
    assert "<b>Your order</b>" in html and "<i>shoes</i>" in html and "<li>one</li>" in html
    assert "script" not in html
    assert received.get_body(("plain",)).get_content().strip() == "Your order: shoes"


def test_a_recipient_the_smtp_server_refuses_marks_the_reply_failed_with_the_reason(
    reply, poll, email_asset, mailbox, smtp_server
):
    smtp_server.refuse["erika@example.org"] = "550 5.1.1 No such user here"
    mailbox.append(mail())
    poll(email_asset)

    sent = reply(Conversation.objects.get(), "Hello?")

    assert sent.status == DeliveryStatus.FAILED
    assert "550" in sent.failure_reason and "No such user here" in sent.failure_reason
    assert smtp_server.messages == []


def test_a_temporary_smtp_refusal_is_retried_before_the_reply_fails(
    reply, poll, email_asset, mailbox, smtp_server
):
    smtp_server.refuse["erika@example.org"] = "451 4.3.0 Try again later"
    mailbox.append(mail())
    poll(email_asset)

    sent = reply(Conversation.objects.get(), "Hello?")

    # Eager tasks here: every retry runs at once, then the send gives up.
    assert sent.status == DeliveryStatus.FAILED
    assert sent.send_attempts > 1
    assert "gave up" in sent.failure_reason and "451 4.3.0" in sent.failure_reason


def test_a_subject_or_cc_cannot_smuggle_headers(reply, poll, email_asset, mailbox, smtp_server):
    mailbox.append(mail())
    poll(email_asset)

    reply(
        Conversation.objects.get(),
        "Hi",
        content={
            "subject": "Hello\r\nBcc: spy@evil.example",
            "cc": ["ok@acme.test", "x@evil.example\r\nBcc: spy@evil.example", "not an address"],
        },
    )

    envelope, received = smtp_server.messages[-1]
    assert received["Bcc"] is None
    assert received["Subject"] == "Hello Bcc: spy@evil.example"
    assert sorted(envelope.rcpt_tos) == ["erika@example.org", "ok@acme.test"]


def test_the_periodic_poll_takes_in_every_mailbox_and_survives_a_broken_one(
    django_capture_on_commit_callbacks, email_asset, mailbox, tenant, settings
):
    from channels_app.models import ChannelKind, EmailIntake
    from channels_app.tasks import poll_mailboxes
    from tests.factories import ChannelAssetFactory

    broken = ChannelAssetFactory(
        tenant=tenant,
        kind=ChannelKind.EMAIL,
        name="Broken box",
        email_address="broken@acme.test",
        email_intake=EmailIntake.IMAP,
        imap_host="127.0.0.1",
        imap_port=1,
        imap_security="none",
        imap_user="x",
        imap_password="y",
        smtp_host="127.0.0.1",
    )
    mailbox.append(mail(message_id="beat@example.org"))

    with django_capture_on_commit_callbacks(execute=True):
        outcome = poll_mailboxes.delay().get()

    assert outcome[str(email_asset.uuid)] == 1
    assert "cannot connect" in outcome[str(broken.uuid)]
    assert Message.objects.filter(provider_message_id="beat@example.org").exists()


def test_a_flow_greeting_is_marked_automatic_and_an_agent_reply_is_not(
    poll, reply, email_asset, mailbox, smtp_server, django_capture_on_commit_callbacks
):
    mailbox.append(mail())
    poll(email_asset)
    conversation = Conversation.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        message_send(conversation=conversation, text="Thanks, we got it.", author_kind="bot")
    reply(conversation, "Here is the answer.")

    greeting, answer = (m for _, m in smtp_server.messages[-2:])
    assert greeting["Auto-Submitted"] == "auto-replied"
    assert answer["Auto-Submitted"] == "no"


def test_clean_attachments_go_along_and_an_infected_one_never_does(
    poll, email_asset, mailbox, smtp_server, agent, django_capture_on_commit_callbacks
):
    from django.core.files.base import ContentFile

    from channels_app.models import Attachment

    mailbox.append(mail())
    poll(email_asset)
    conversation = Conversation.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        message = message_send(
            conversation=conversation,
            text="The documents you asked for.",
            author_kind=AuthorKind.AGENT,
            author_agent=agent,
        )
        for name, scan in (("terms.pdf", "clean"), ("eicar.com", "infected")):
            attachment = Attachment(
                tenant=conversation.tenant,
                message=message,
                filename=name,
                declared_content_type="application/pdf",
                scan_status=scan,
            )
            attachment.file.save(name, ContentFile(b"%PDF-1.4\n%%EOF\n"), save=False)
            attachment.save()

    _, received = smtp_server.messages[-1]
    assert [part.get_filename() for part in received.iter_attachments()] == ["terms.pdf"]
    assert received.get_body(("plain",)).get_content().strip() == "The documents you asked for."


def test_a_reply_waits_while_its_attachment_is_being_scanned(
    poll, email_asset, mailbox, smtp_server, agent, django_capture_on_commit_callbacks
):
    from django.core.files.base import ContentFile

    from channels_app.models import Attachment

    mailbox.append(mail())
    poll(email_asset)
    conversation = Conversation.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        message = message_send(
            conversation=conversation, text="See attached.", author_kind=AuthorKind.AGENT
        )
        attachment = Attachment(tenant=conversation.tenant, message=message, filename="a.pdf")
        attachment.file.save("a.pdf", ContentFile(b"%PDF-1.4\n%%EOF\n"), save=False)
        attachment.save()

    message.refresh_from_db()
    # Eager tasks: every retry ran at once while the scan stayed pending.
    assert message.status == DeliveryStatus.FAILED
    assert "still being scanned" in message.failure_reason
    assert smtp_server.messages == []
