"""Apple's inbound format: one JSON message per POST (gzip when Apple compresses it), the
customer's opaque id in `source-id`, our business id in `destination-id`, the message id in `id`,
the device's rich-message support in `capability-list`, and an HS256 JWT in Authorization."""

import zlib
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse

from channels_app.providers.apple import auth
from channels_app.providers.apple.transport import AppleTransport
from channels_app.providers.base import (
    ConversationEnded,
    CustomerTyping,
    Ignored,
    InboundMessage,
    Item,
    MalformedEvent,
    MediaRef,
    Split,
    StoredPiece,
)
from channels_app.providers.util import dumps, load_json, require

# Apple's headers we keep with each stored message.
KEPT_HEADERS = ("source-id", "destination-id", "id", "capability-list", "device-agent", "locale")
MAX_INFLATED_BYTES = 4 * 1024 * 1024
# Apple writes this character into a text body where each attachment sits.
OBJECT_REPLACEMENT = "\ufffc"


@dataclass
class AppleMediaRef(MediaRef):
    """An encrypted attachment: fetched through Apple's pre-download step, then decrypted."""

    key: str = ""
    signature: str = ""
    owner: str = ""
    size: int = 0


def inflate(body: bytes) -> bytes:
    """A gzip body (Apple compresses larger messages), bounded so a small bomb cannot grow."""
    if body[:2] != b"\x1f\x8b":
        return body
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = decompressor.decompress(body, MAX_INFLATED_BYTES + 1)
    except zlib.error as exc:
        raise MalformedEvent(f"gzip body cannot be read: {exc}") from exc
    if len(data) > MAX_INFLATED_BYTES or decompressor.unconsumed_tail:
        raise MalformedEvent(f"gzip body inflates beyond {MAX_INFLATED_BYTES} bytes")
    return data


def _media_kind(mime: str) -> str:
    major = mime.split("/", 1)[0]
    return major if major in ("image", "video", "audio") else "document"


def _items(data: dict, key: str, where: str) -> list[dict]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise MalformedEvent(f"{where}: {key} must be a list of objects")
    return value


def _interactive(message_id: str, sender: str, message: dict) -> InboundMessage:
    """The customer's answer to a list picker, time picker, form or quick reply."""
    interactive = require(message, "interactiveData", f"message {message_id}")
    data = interactive.get("data") if isinstance(interactive, dict) else None
    if not isinstance(data, dict):
        raise MalformedEvent(f"message {message_id}: interactiveData.data must be an object")
    item = InboundMessage(provider_message_id=message_id, sender_address=sender)
    request_id = data.get("requestIdentifier", "")
    if isinstance(data.get("listPicker"), dict):
        chosen = []
        for section in _items(data["listPicker"], "sections", "listPicker"):
            for entry in _items(section, "items", "listPicker section"):
                chosen.append(
                    {"id": str(entry.get("identifier", "")), "title": entry.get("title", "")}
                )
        if not chosen:
            raise MalformedEvent(f"message {message_id}: the list picker reply selects nothing")
        item.content_type = "list_picker"
        item.text = ", ".join(c["title"] or c["id"] for c in chosen)
        item.content = {
            "selected": chosen,
            "selected_id": chosen[0]["id"],
            "selected_title": chosen[0]["title"],
        }
    elif isinstance(data.get("event"), dict):
        event = data["event"]
        slots = _items(event, "timeslots", "event")
        if not slots:
            raise MalformedEvent(f"message {message_id}: the time picker reply has no time slot")
        slot = slots[0]
        item.content_type = "time_picker"
        start = str(require(slot, "startTime", "event timeslot"))
        item.text = f"{event.get('title', 'Time slot')}: {start}"
        item.content = {
            "event": event.get("title", ""),
            "slot_id": str(slot.get("identifier", "")),
            "slot_start": start,
            "slot_duration": slot.get("duration"),
        }
    elif isinstance(data.get("dynamic"), dict):
        answers = {}
        for page in _items(data["dynamic"], "selections", "dynamic"):
            answers[str(require(page, "pageIdentifier", "form page"))] = page.get("value", "")
        item.content_type = "form"
        item.text = "; ".join(f"{k}: {v}" for k, v in answers.items()) or "Form sent"
        item.content = {"answers": answers}
    elif isinstance(data.get("quick-reply"), dict):
        quick = data["quick-reply"]
        identifier = str(require(quick, "selectedIdentifier", "quick-reply"))
        titles = {
            str(i.get("identifier")): i.get("title", "")
            for i in _items(quick, "items", "quick-reply")
        }
        item.content_type = "quick_reply"
        item.text = titles.get(identifier) or identifier
        item.content = {"payload": identifier, "title": titles.get(identifier, "")}
    else:
        raise MalformedEvent(
            f"message {message_id}: interactive reply of a kind we do not know "
            "(expected listPicker, event, dynamic or quick-reply)"
        )
    if request_id:
        item.content["request_id"] = request_id
    return item


def parse_envelope(envelope: dict) -> Item:
    headers = envelope.get("headers") or {}
    message = envelope.get("message")
    if not isinstance(message, dict):
        raise MalformedEvent("message must be an object")
    kind = require(message, "type", "message")
    message_id = str(headers.get("id") or require(message, "id", "message"))
    sender = str(headers.get("source-id") or require(message, "sourceId", "message"))
    if kind in ("typing_start", "typing_end"):
        return CustomerTyping(sender_address=sender, typing=kind == "typing_start")
    if kind == "close":
        return ConversationEnded(sender_address=sender, reason="customer_deleted")
    if kind == "interactive":
        item = _interactive(message_id, sender, message)
    elif kind == "text":
        body = message.get("body", "")
        if not isinstance(body, str):
            raise MalformedEvent(f"message {message_id}: body must be text")
        item = InboundMessage(
            provider_message_id=message_id,
            sender_address=sender,
            text=body.replace(OBJECT_REPLACEMENT, "").strip(),
        )
        for attachment in _items(message, "attachments", f"message {message_id}"):
            where = f"message {message_id} attachment"
            mime = attachment.get("mimeType", "")
            item.media.append(
                AppleMediaRef(
                    kind=_media_kind(mime),
                    url=str(require(attachment, "url", where)),
                    declared_content_type=mime,
                    filename=attachment.get("name", ""),
                    key=str(require(attachment, "key", where)),
                    signature=str(require(attachment, "signature-base64", where)),
                    owner=str(attachment.get("owner", "")),
                    size=int(attachment.get("size") or 0),
                )
            )
        if item.media:
            item.content_type = item.media[0].kind
        elif not item.text:
            raise MalformedEvent(f"message {message_id}: neither body nor attachments")
    else:
        return Ignored(f"Apple message type {kind!r} is not handled")
    capabilities = [
        c.strip() for c in str(headers.get("capability-list", "")).split(",") if c.strip()
    ]
    if capabilities:
        item.content["capabilities"] = capabilities
    if headers.get("locale") or message.get("locale"):
        item.content["locale"] = headers.get("locale") or message.get("locale")
    return item


class AppleProvider:
    kind = "apple"
    content_type = "application/json"
    acknowledgement = ""
    acknowledgement_type = "text/plain"

    def handshake(self, request: HttpRequest, asset) -> HttpResponse | None:
        return None

    def signature_valid(self, request: HttpRequest, asset) -> bool:
        """Apple's JWT, signed with the MSP secret for our MSP id, and meant for this business."""
        if not auth.token_valid(
            auth.bearer(request.headers), secret=asset.apple_msp_secret, audience=asset.apple_msp_id
        ):
            return False
        destination = request.headers.get("destination-id", "")
        return not destination or destination == asset.apple_business_id

    def split_request(self, asset, request: HttpRequest) -> Split:
        """Apple's headers carry what the body may leave out: kept with the stored body."""
        headers = {name: request.headers.get(name, "") for name in KEPT_HEADERS}
        return self._split(asset, request.body, {k: v for k, v in headers.items() if v})

    def split(self, asset, body: bytes, content_type: str) -> Split:
        return self._split(asset, body, {})

    def _split(self, asset, body: bytes, headers: dict[str, str]) -> Split:
        message = load_json(inflate(body))
        if not isinstance(message, dict):
            raise MalformedEvent("body must be a JSON object")
        destination = headers.get("destination-id") or message.get("destinationId", "")
        if asset.apple_business_id and destination and destination != asset.apple_business_id:
            raise MalformedEvent(f"message for business {destination!r}, not this asset's")
        envelope = {"headers": headers, "message": message}
        parsed = parse_envelope(envelope)
        kind = message.get("type")
        event_id = str(headers.get("id") or require(message, "id", "message"))
        if kind != "text" and kind != "interactive":
            event_id = f"{kind}:{event_id}"
        return Split([StoredPiece(event_id, dumps(envelope), not isinstance(parsed, Ignored))])

    def parse(self, asset, body: str, content_type: str) -> list[Item]:
        envelope = load_json(body)
        if not isinstance(envelope, dict):
            raise MalformedEvent("stored event must be an object")
        return [parse_envelope(envelope)]

    def transport(self, asset) -> AppleTransport:
        return AppleTransport(asset)


PROVIDER = AppleProvider()
