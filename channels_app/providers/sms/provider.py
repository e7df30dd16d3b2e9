from urllib.parse import parse_qs

from django.http import HttpRequest, HttpResponse
from twilio.request_validator import RequestValidator

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
from channels_app.providers.sms.transport import TwilioTransport

STATUSES = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "failed": "failed",
    "undelivered": "failed",
}


def _form(body: str | bytes) -> dict[str, str]:
    try:
        text = body.decode() if isinstance(body, bytes) else body
    except UnicodeDecodeError as exc:
        raise MalformedEvent(f"body is not UTF-8: {exc}") from exc
    if "\x00" in text:
        raise MalformedEvent("body holds a NUL byte")
    try:
        parsed = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text))
    except ValueError as exc:
        raise MalformedEvent(f"body is not a form: {exc}") from exc
    form = {key: values[-1] for key, values in parsed.items()}
    if any("\x00" in key + value for key, value in form.items()):
        raise MalformedEvent("a form field holds a NUL character")
    return form


def _media_kind(content_type: str) -> str:
    major = content_type.split("/", 1)[0]
    return major if major in ("image", "video", "audio") else "document"


def parse_form(form: dict[str, str]) -> Item:
    sid = form.get("MessageSid") or form.get("SmsSid")
    if not sid:
        raise MalformedEvent("missing MessageSid")
    if form.get("MessageStatus"):
        status = form["MessageStatus"]
        if status not in STATUSES:
            return Ignored(f"SMS status {status!r} is not handled")
        error = ""
        if form.get("ErrorCode"):
            error = f"Twilio error {form['ErrorCode']}" + (
                f": {form['ErrorMessage']}" if form.get("ErrorMessage") else ""
            )
        return StatusUpdate(status=STATUSES[status], provider_message_ids=[sid], error=error)
    sender = form.get("From")
    if not sender:
        raise MalformedEvent(f"message {sid}: missing From")
    try:
        count = int(form.get("NumMedia") or 0)
    except ValueError as exc:
        raise MalformedEvent(f"message {sid}: NumMedia must be a number") from exc
    item = InboundMessage(
        provider_message_id=sid,
        sender_address=sender,
        text=form.get("Body", ""),
        sender_name=form.get("ProfileName", ""),
    )
    for index in range(count):
        url = form.get(f"MediaUrl{index}")
        if not url:
            raise MalformedEvent(f"message {sid}: missing MediaUrl{index}")
        declared = form.get(f"MediaContentType{index}", "")
        item.media.append(
            MediaRef(kind=_media_kind(declared), url=url, declared_content_type=declared)
        )
    if item.media:
        item.content_type = item.media[0].kind
    elif not item.text:
        raise MalformedEvent(f"message {sid}: neither Body nor media")
    return item


class SmsProvider:
    kind = "sms"
    content_type = "application/x-www-form-urlencoded"
    # An empty TwiML document: Twilio expects one, and it sends no reply.
    acknowledgement = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
    acknowledgement_type = "text/xml"

    def handshake(self, request: HttpRequest, asset) -> HttpResponse | None:
        return None

    def signature_valid(self, request: HttpRequest, asset) -> bool:
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature or not asset.auth_token:
            return False
        request.body  # read first so the form parser reuses the kept body
        return RequestValidator(asset.auth_token).validate(
            request.build_absolute_uri(), request.POST, signature
        )

    def split(self, asset, body: bytes, content_type: str) -> Split:
        form = _form(body)
        # Inbound messages are To our number; status callbacks are about messages From it.
        ours = form.get("From" if form.get("MessageStatus") else "To", "")
        if asset.sms_number and ours and ours != asset.sms_number:
            raise MalformedEvent(f"event for {ours}, not this asset's number")
        parsed = parse_form(form)
        sid = form.get("MessageSid") or form.get("SmsSid")
        event_id = f"{sid}:{form['MessageStatus']}" if form.get("MessageStatus") else sid
        return Split([StoredPiece(event_id, body.decode(), not isinstance(parsed, Ignored))])

    def parse(self, asset, body: str, content_type: str) -> list[Item]:
        return [parse_form(_form(body))]

    def transport(self, asset) -> TwilioTransport:
        return TwilioTransport(asset)


PROVIDER = SmsProvider()
