"""The email channel: raw MIME in (IMAP intake, or a mail service's signed webhook), SMTP out.

Both intakes store the same raw event: the MIME message keyed by its Message-ID, so one mail is
stored once whichever way it came. The webhook follows Mailgun's documented scheme: a form post
with the raw message in `body-mime`, signed as HMAC-SHA256(signing key, timestamp + token).
"""

import hashlib
import hmac
import time
from datetime import timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.utils import timezone

from channels_app.providers.base import (
    Ignored,
    InboundMessage,
    Item,
    MalformedEvent,
    MediaRef,
    Split,
    StatusUpdate,
    StoredPiece,
)
from channels_app.providers.email import mime
from channels_app.providers.email.transport import EmailTransport

# A signed POST older (or newer) than this is a replay, as Mailgun advises.
SIGNATURE_MAX_AGE_SECONDS = 300


def _media_kind(content_type: str) -> str:
    major = content_type.split("/", 1)[0]
    return major if major in ("image", "video", "audio") else "document"


def raw_mail_piece(raw: bytes, *, uid: str = "") -> StoredPiece:
    """One stored event for one raw mail; `uid` ("<uidvalidity>/<uid>") kept as a trace header."""
    message = mime.parse_mail(raw)
    if uid:
        raw = f"{mime.UID_HEADER}: {uid}\r\n".encode() + raw
    return StoredPiece(
        mime.message_id_of(message, raw), mime.stored_body(raw), handled=_worth_processing(message)
    )


def _worth_processing(message: EmailMessage) -> bool:
    """Auto-replies are stored and ignored; bounces are processed (they fail the mail they are about)."""
    reason = mime.automatic_reason(message)
    return reason is None or mime.is_bounce(message)


def _form_fields(body: bytes) -> dict[str, bytes]:
    """multipart/form-data fields; the boundary is the body's first line."""
    first_line = body.split(b"\r\n", 1)[0]
    if not first_line.startswith(b"--") or len(first_line) < 3:
        raise MalformedEvent("body is not multipart/form-data")
    boundary = first_line[2:].decode("latin-1")
    envelope = f'Content-Type: multipart/form-data; boundary="{boundary}"\r\n\r\n'.encode()
    form = BytesParser(policy=HTTP).parsebytes(envelope + body)
    fields: dict[str, bytes] = {}
    for part in form.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[str(name)] = part.get_payload(decode=True) or b""
    return fields


def _flooding(asset, sender: str) -> bool:
    """More mails from one address than the flood limit within the window: the rest wait."""
    from channels_app.models import Direction, Message

    window = timedelta(seconds=settings.EMAIL_FLOOD_WINDOW_SECONDS)
    recent = Message.objects.filter(
        asset=asset,
        direction=Direction.INBOUND,
        conversation__identity__address=sender,
        created_at__gte=timezone.now() - window,
    ).count()
    return recent >= settings.EMAIL_FLOOD_MAX_PER_ADDRESS


def parse_mail(asset, raw: bytes) -> Item:
    message = mime.parse_mail(raw)
    message_id = mime.message_id_of(message, raw)
    reason = mime.automatic_reason(message)
    if reason is not None:
        if mime.is_bounce(message):
            bounce = mime.bounce_details(message)
            if bounce.original_message_ids:
                return StatusUpdate(
                    status="failed",
                    provider_message_ids=bounce.original_message_ids,
                    error=bounce.reason,
                )
        return Ignored(f"mail {message_id} is automatic ({reason}): no conversation, no reply")
    sender_name, sender = mime.sender_of(message)
    if not sender or "@" not in sender:
        raise MalformedEvent(f"mail {message_id}: no sender address")
    if asset.email_address and sender == asset.email_address.lower():
        return Ignored(f"mail {message_id} comes from this asset's own address")
    if _flooding(asset, sender):
        return Ignored(f"mail {message_id}: {sender} sent more than the flood limit; not taken in")
    body = mime.body_of(message)
    text = body.text or (mime.html_to_text(body.html) if body.html else "")
    fresh, quoted = mime.split_quoted(text)
    in_reply_to = mime.message_ids(mime.header(message, "In-Reply-To"))
    references = mime.message_ids(mime.header(message, "References"))
    content: dict = {
        "subject": mime.header(message, "Subject")[:500],
        "message_id": message_id,
        "in_reply_to": in_reply_to[:1],
        "references": references[-30:],
        "to": mime.addresses(message, "To"),
        "cc": mime.addresses(message, "Cc"),
    }
    if quoted:
        content["quoted_text"] = quoted
    if body.html:
        content["html"] = mime.html_sanitize(body.html)
    if body.text:
        content["text_full"] = body.text
    uid = mime.header(message, mime.UID_HEADER)
    if uid:
        content["mailbox_uid"] = uid
    item = InboundMessage(
        provider_message_id=message_id,
        sender_address=sender,
        sender_name=sender_name,
        text=fresh or text.strip(),
        content=content,
        reply_to_provider_id=in_reply_to[0] if in_reply_to else "",
        sent_at=mime.date_of(message),
        thread_provider_ids=list(dict.fromkeys(in_reply_to + references[::-1])),
    )
    inline: dict[str, str] = {}
    for part in body.parts:
        media_id = f"part{part.index}:{message_id}"[:255]
        item.media.append(
            MediaRef(
                kind=_media_kind(part.content_type),
                media_id=media_id,
                declared_content_type=part.content_type,
                filename=part.filename,
            )
        )
        if part.inline and part.content_id:
            inline[part.content_id] = media_id
    if inline:
        content["inline"] = inline
    # One content type for every mail (the email template shows body, files and inline images);
    # a mail without text still has its subject to show in lists and offers.
    if not item.text:
        item.text = content["subject"] or "(no text)"
    return item


class EmailProvider:
    kind = "email"
    content_type = "message/rfc822"
    acknowledgement = '{"message": "stored"}'
    acknowledgement_type = "application/json"

    def handshake(self, request: HttpRequest, asset) -> HttpResponse | None:
        return None

    def signature_valid(self, request: HttpRequest, asset) -> bool:
        key = asset.email_signing_key
        if not key:
            return False
        request.body  # read first so the form parser reuses the kept body
        try:
            form = request.POST
        except MultiPartParserError:
            return False  # no readable signature fields: nothing to trust
        timestamp = form.get("timestamp", "")
        token = form.get("token", "")
        signature = form.get("signature", "")
        if not (timestamp and token and signature):
            return False
        expected = hmac.new(
            key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return False
        try:
            age = abs(time.time() - int(timestamp))
        except ValueError:
            return False
        if age > SIGNATURE_MAX_AGE_SECONDS:
            return False
        # A token is good for one mail: the signature does not cover the body, so a captured
        # request posted again with another mail inside is refused. The same mail again is the
        # provider retrying (our answer was lost, or we failed before storing it): taken, and
        # stored once by its Message-ID.
        mail = hashlib.sha256(form.get("body-mime", "").encode()).hexdigest()
        key = f"email-webhook-token:{asset.pk}:{hashlib.sha256(token.encode()).hexdigest()}"
        if cache.add(key, mail, timeout=2 * SIGNATURE_MAX_AGE_SECONDS):
            return True
        return cache.get(key) == mail

    def split(self, asset, body: bytes, content_type: str) -> Split:
        fields = _form_fields(body)
        raw = fields.get("body-mime")
        if not raw:
            raise MalformedEvent(
                "no body-mime field: forward the raw MIME message (a route that stores and "
                "notifies a URL ending in 'mime')"
            )
        return Split([raw_mail_piece(raw)])

    def parse(self, asset, body: str, content_type: str) -> list[Item]:
        return [parse_mail(asset, mime.raw_bytes(body))]

    def transport(self, asset) -> EmailTransport:
        return EmailTransport(asset)


PROVIDER = EmailProvider()
