"""Outbound email: the agent's reply as multipart (text + HTML), threaded under the customer's
last mail (In-Reply-To, References, "Re:" subject), sent by SMTP, or posted raw to the asset's
API base URL (the embedded demo's sandbox mailbox) when the asset has no SMTP server."""

import re
import smtplib
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from django.utils import timezone

from channels_app.providers.base import (
    Media,
    MediaRef,
    PermanentSendError,
    SendResult,
    TransientSendError,
)
from channels_app.providers.email import mime
from channels_app.providers.email.connect import MailConnectionError, smtp_login
from channels_app.providers.http import call

RE_PREFIX = re.compile(r"^\s*(re|aw|sv|antw)\s*:", re.IGNORECASE)
MAX_REFERENCES = 20
ADDRESS = re.compile(r"[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+")


def reply_subject(subject: str) -> str:
    subject = subject.strip() or "Your message"
    return subject if RE_PREFIX.match(subject) else f"Re: {subject}"


def _thread_message(message):
    """The customer's mail this reply answers: the quoted one, else their latest in the conversation."""
    from channels_app.models import Direction, Message

    if message.reply_to_id and message.reply_to.direction == Direction.INBOUND:
        return message.reply_to
    return (
        Message.objects.filter(conversation_id=message.conversation_id, direction=Direction.INBOUND)
        .exclude(provider_message_id="")
        .order_by("-created_at", "-pk")
        .first()
    )


def _domain(address: str) -> str:
    return address.rsplit("@", 1)[-1] if "@" in address else "localhost"


def build_mail(*, asset, message, to: str, idempotency_key: str) -> tuple[EmailMessage, str]:
    """The MIME message and its Message-ID (without brackets): the id is derived from the
    message's idempotency key, so a retried send carries the same id."""
    from channels_app.models import Attachment, AuthorKind, Direction, Message

    thread = _thread_message(message)
    content = message.content or {}
    mail = EmailMessage()
    message_id = f"{idempotency_key}@{_domain(asset.email_address)}"
    mail["Message-ID"] = f"<{message_id}>"
    mail["Date"] = format_datetime(timezone.now())
    mail["From"] = formataddr((asset.name, asset.email_address))
    mail["To"] = to
    cc = [a for a in content.get("cc", []) if isinstance(a, str) and ADDRESS.fullmatch(a)]
    if cc:
        mail["Cc"] = ", ".join(cc)
    subject = str(content.get("subject") or "")
    if thread is not None:
        thread_content = thread.content or {}
        subject = subject or reply_subject(str(thread_content.get("subject") or ""))
        references = [r for r in thread_content.get("references", []) if isinstance(r, str)] + [
            thread.provider_message_id
        ]
        mail["In-Reply-To"] = f"<{thread.provider_message_id}>"
        mail["References"] = " ".join(f"<{r}>" for r in references[-MAX_REFERENCES:])
    else:
        # Our own earlier mail in this conversation still threads the customer's client.
        earlier = (
            Message.objects.filter(
                conversation_id=message.conversation_id, direction=Direction.OUTBOUND
            )
            .exclude(provider_message_id="")
            .exclude(pk=message.pk)
            .order_by("-created_at")
            .first()
        )
        if earlier is not None:
            mail["In-Reply-To"] = f"<{earlier.provider_message_id}>"
            mail["References"] = f"<{earlier.provider_message_id}>"
            subject = subject or reply_subject(str((earlier.content or {}).get("subject") or ""))
    # A header never carries a line break from content (no header injection).
    mail["Subject"] = " ".join(subject.split()) or "Your message"
    # RFC 3834: a flow's greeting is an automatic reply, so other robots do not answer it.
    automatic = message.author_kind in (AuthorKind.BOT, AuthorKind.SYSTEM)
    mail["Auto-Submitted"] = "auto-replied" if automatic else "no"
    html = content.get("html")
    mail.set_content(message.text or mime.html_to_text(html or ""))
    mail.add_alternative(
        mime.html_sanitize(html) if html else mime.text_to_html(message.text), subtype="html"
    )
    attachments = list(Attachment.objects.filter(message_id=message.pk).exclude(file=""))
    if any(a.scan_status == Attachment.ScanStatus.PENDING for a in attachments):
        # Every outbound file is scanned first: the mail waits for the scan (a retry).
        raise TransientSendError("an attachment is still being scanned")
    for attachment in attachments:
        if attachment.scan_status != Attachment.ScanStatus.CLEAN:
            continue  # infected or unscannable: never sent
        content_type = attachment.detected_content_type or attachment.declared_content_type
        major, _, minor = (content_type or "application/octet-stream").partition("/")
        with attachment.file.open("rb") as handle:
            mail.add_attachment(
                handle.read(),
                maintype=major,
                subtype=minor or "octet-stream",
                filename=attachment.filename or "attachment",
            )
    return mail, message_id


def _smtp_reason(exc: smtplib.SMTPException) -> tuple[str, bool]:
    """The reason kept on the message, and whether it is worth a retry (4xx, connection trouble)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(
            f"{rcpt}: {code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
            for rcpt, (code, text) in exc.recipients.items()
        )
        return f"SMTP refused the recipient: {detail}", all(400 <= c < 500 for c in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error
        text = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
        return f"SMTP error {exc.smtp_code}: {text}", 400 <= exc.smtp_code < 500
    return f"SMTP: {exc}", True


class EmailTransport:
    def __init__(self, asset):
        self.asset = asset

    def send(self, *, message, to: str, idempotency_key: str) -> SendResult:
        mail, message_id = build_mail(
            asset=self.asset, message=message, to=to, idempotency_key=idempotency_key
        )
        if self.asset.smtp_host:
            self._send_smtp(mail)
        elif self.asset.api_base_url:
            self._send_http(mail, to)
        else:
            raise PermanentSendError(
                "this email asset has neither an SMTP server nor an API base URL"
            )
        return SendResult(provider_message_id=message_id)

    def _send_smtp(self, mail: EmailMessage) -> None:
        try:
            client = smtp_login(self.asset)
        except MailConnectionError as exc:
            error = TransientSendError if exc.transient else PermanentSendError
            raise error(exc.reason) from exc
        try:
            client.send_message(mail)
        except smtplib.SMTPException as exc:
            reason, transient = _smtp_reason(exc)
            raise (TransientSendError if transient else PermanentSendError)(reason) from exc
        except OSError as exc:
            raise TransientSendError(f"SMTP: connection lost: {exc}") from exc
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                pass

    def _send_http(self, mail: EmailMessage, to: str) -> None:
        recipients = [to] + [a.strip() for a in str(mail.get("Cc", "")).split(",") if a.strip()]
        call(
            "POST",
            f"{self.asset.api_base_url.rstrip('/')}/messages.mime",
            # The raw message as a form field (config.outbound posts forms, not file uploads):
            # what the embedded demo's sandbox takes; real mail services are reached by SMTP.
            data={"to": ",".join(recipients), "message": mail.as_string()},
            auth=("api", self.asset.access_token),
            reason=lambda r: r.text[:200],
        )

    def mark_read(self, *, message) -> None:
        """Email has no read receipts we send."""

    def download(self, *, ref: MediaRef) -> Media:
        """An attachment is a part of the stored raw mail: cut out of it, no request goes out."""
        from channels_app.models import InboundEvent

        part, _, message_id = ref.media_id.partition(":")
        event = (
            InboundEvent.objects.filter(asset=self.asset, provider_event_id=message_id)
            .only("body")
            .first()
        )
        if event is None or not part.startswith("part"):
            raise PermanentSendError(f"no stored mail holds {ref.media_id}")
        try:
            content, content_type, filename = mime.part_bytes(
                mime.parse_mail(mime.raw_bytes(event.body)), int(part[4:])
            )
        except (KeyError, ValueError) as exc:
            raise PermanentSendError(f"{ref.media_id}: {exc}") from exc
        return Media(content=content, content_type=content_type, filename=filename or ref.filename)
