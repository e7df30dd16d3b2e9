"""Outbound live chat: an agent's reply is pushed to the visitor's socket group. The message is
stored first, so a visitor who was offline reads it on reconnect (the database is the truth).

A conversation opened by an offline message ("leave a message") is answered like an email
conversation: each reply is also mailed to the address the visitor left, through Django's mail
backend, threaded under the earlier replies."""

import smtplib
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from channels_app.providers.base import (
    Media,
    MediaRef,
    PermanentSendError,
    SendResult,
    TransientSendError,
)
from tenants.realtime import send_event_on_commit

# Where a visitor's upload waits in storage until the inbound pipeline stores it as an attachment.
UPLOAD_SPOOL = "livechat-uploads/"


def visitor_group(visitor: str) -> str:
    return f"livechat.{visitor}"


def _files(message) -> list[dict]:
    from channels_app.models import Attachment

    files = []
    for attachment in message.attachments.all():
        clean = attachment.scan_status == Attachment.ScanStatus.CLEAN and bool(attachment.file)
        infected = attachment.scan_status == Attachment.ScanStatus.INFECTED
        files.append(
            {
                "id": attachment.pk,
                "name": "unknown file" if infected else (attachment.filename or "file"),
                "size": attachment.size,
                # Only a clean file is downloadable; a pending one shows as being checked.
                "state": "ready" if clean else ("refused" if infected else attachment.scan_status),
            }
        )
    return files


def message_frame(message) -> dict:
    author = ""
    if message.author_agent_id:
        agent = message.author_agent
        author = str(getattr(agent, "display_name", "") or agent)
    return {
        "id": message.pk,
        "direction": message.direction,
        "text": message.text,
        "author": author,
        "at": (message.sent_at or message.created_at).isoformat(),
        "client_id": message.provider_message_id.split(":", 1)[-1]
        if message.direction == "in"
        else "",
        "status": message.status,
        "files": _files(message),
    }


def _offline_address(conversation) -> str:
    variables = conversation.variables if isinstance(conversation.variables, dict) else {}
    if variables.get("livechat_offline"):
        return str(variables.get("visitor_email") or "")
    return ""


def offline_reply_mail(*, message, to: str, idempotency_key: str) -> EmailMultiAlternatives:
    """The reply as a multipart mail (text + HTML, clean files attached), threaded under the
    conversation's earlier replies; its Message-ID derives from the idempotency key, so a retried
    send carries the same id."""
    from channels_app.models import Attachment, AuthorKind, Direction, Message
    from channels_app.providers.email import mime
    from channels_app.providers.email.transport import reply_subject

    widget = getattr(message.asset, "chat_widget", None)
    title = widget.title if widget else message.asset.name
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(">") or "localhost"
    headers = {
        "Message-ID": make_msgid(idstring=idempotency_key, domain=domain),
        "Auto-Submitted": "no"
        if message.author_kind not in (AuthorKind.BOT, AuthorKind.SYSTEM)
        else "auto-replied",
    }
    earlier = list(
        Message.objects.filter(
            conversation_id=message.conversation_id, direction=Direction.OUTBOUND
        )
        .exclude(pk=message.pk)
        .filter(content__mail_id__isnull=False)
        .order_by("created_at", "pk")
        .values_list("content__mail_id", flat=True)[:20]
    )
    if earlier:
        headers["In-Reply-To"] = earlier[-1]
        headers["References"] = " ".join(earlier)
    mail = EmailMultiAlternatives(
        subject=reply_subject(f"{title}: your message"),
        body=message.text,
        to=[to],
        headers=headers,
    )
    mail.attach_alternative(mime.text_to_html(message.text), "text/html")
    for attachment in Attachment.objects.filter(message_id=message.pk).exclude(file=""):
        if attachment.scan_status != Attachment.ScanStatus.CLEAN:
            continue  # outbound files are scanned before sending; anything else is never sent
        with attachment.file.open("rb") as handle:
            mail.attach(
                attachment.filename or "attachment",
                handle.read(),
                attachment.detected_content_type or "application/octet-stream",
            )
    return mail


class LiveChatTransport:
    def __init__(self, asset):
        self.asset = asset

    def send(self, *, message, to: str, idempotency_key: str) -> SendResult:
        address = _offline_address(message.conversation)
        if address:
            mail = offline_reply_mail(message=message, to=address, idempotency_key=idempotency_key)
            try:
                get_connection(fail_silently=False).send_messages([mail])
            except (smtplib.SMTPException, OSError) as exc:
                raise TransientSendError(f"the reply was not mailed: {exc}") from exc
            content = dict(message.content or {})
            content["mail_id"] = mail.extra_headers["Message-ID"]
            type(message).objects.filter(pk=message.pk).update(content=content)
        frame = message_frame(message)
        frame["status"] = "sent"
        send_event_on_commit(groups=[visitor_group(to)], event="message", payload=frame)
        return SendResult(provider_message_id=f"out:{message.pk}")

    def mark_read(self, *, message) -> None:
        send_event_on_commit(
            groups=[visitor_group(message.conversation.identity.address)],
            event="read",
            payload={"id": message.pk},
        )

    def media_stored(self, *, refs: list[MediaRef]) -> None:
        """The uploads are attachments now: the spooled copies go."""
        from django.core.files.storage import default_storage

        for ref in refs:
            if ref.media_id.startswith(UPLOAD_SPOOL) and ".." not in ref.media_id:
                default_storage.delete(ref.media_id)

    def download(self, *, ref: MediaRef) -> Media:
        """A visitor's upload, spooled in storage by the widget's upload endpoint."""
        from django.core.files.storage import default_storage

        name = ref.media_id
        if not name.startswith(UPLOAD_SPOOL) or ".." in name:
            raise PermanentSendError("not a live-chat upload")
        try:
            with default_storage.open(name, "rb") as handle:
                data = handle.read()
        except FileNotFoundError as exc:
            raise PermanentSendError("the upload is no longer there") from exc
        return Media(content=data, content_type=ref.declared_content_type, filename=ref.filename)
