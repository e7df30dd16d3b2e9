from typing import Any

from django.http import HttpRequest, HttpResponse

from channels_app.providers import meta
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
from channels_app.providers.messenger.transport import MessengerTransport
from channels_app.providers.util import (
    body_hash,
    dumps,
    from_unix,
    load_json,
    require,
    require_list,
)

MEDIA_KINDS = {"image": "image", "video": "video", "audio": "audio", "file": "document"}


def _events(asset, data: Any) -> list[tuple[dict, dict]]:
    if not isinstance(data, dict) or data.get("object") != "page":
        raise MalformedEvent("object must be page")
    pairs = []
    for entry in require_list(data, "entry", "envelope"):
        if asset.fb_page_id and str(entry.get("id", "")) != asset.fb_page_id:
            raise MalformedEvent(f"event for page {entry.get('id')!r}, not this asset's")
        for event in entry.get("messaging") or []:
            if not isinstance(event, dict):
                raise MalformedEvent("entry: a messaging event must be an object")
            pairs.append((entry, event))
        for event in entry.get("standby") or []:
            pairs.append((entry, {"standby": event}))
    return pairs


def _envelope(entry: dict, event: dict) -> str:
    return dumps(
        {
            "object": "page",
            "entry": [{"id": entry.get("id", ""), "time": entry.get("time"), "messaging": [event]}],
        }
    )


def _event_id(event: dict) -> tuple[str, bool]:
    """The id to store an event under, and whether it is a kind we handle."""
    message = event.get("message")
    if isinstance(message, dict):
        mid = require(message, "mid", "message")
        return (f"echo:{mid}", False) if message.get("is_echo") else (mid, True)
    if isinstance(event.get("postback"), dict):
        postback = event["postback"]
        return postback.get("mid") or f"postback:{body_hash(dumps(event))}", True
    if isinstance(event.get("delivery"), dict):
        return f"delivery:{body_hash(dumps(event))}", True
    if isinstance(event.get("read"), dict):
        sender = require(event.get("sender"), "id", "read")
        return f"read:{sender}:{event['read'].get('watermark', '')}", True
    return f"other:{body_hash(dumps(event))}", False


def parse_event(event: dict) -> Item:
    if "standby" in event:
        return Ignored("Messenger standby events are not handled")
    sender = str(require(event.get("sender"), "id", "event"))
    at = from_unix(event.get("timestamp"), millis=True)
    message = event.get("message")
    if isinstance(message, dict):
        if message.get("is_echo"):
            return Ignored("Messenger echo of our own message")
        item = InboundMessage(
            provider_message_id=require(message, "mid", "message"),
            sender_address=sender,
            text=message.get("text", ""),
            sent_at=at,
        )
        if isinstance(message.get("reply_to"), dict):
            item.reply_to_provider_id = message["reply_to"].get("mid", "")
        if isinstance(message.get("quick_reply"), dict):
            item.content_type = "quick_reply"
            item.content["payload"] = message["quick_reply"].get("payload", "")
        attachments = message.get("attachments") or []
        if not isinstance(attachments, list):
            raise MalformedEvent(f"message {item.provider_message_id}: attachments must be a list")
        for attachment in attachments:
            kind = attachment.get("type") if isinstance(attachment, dict) else None
            payload = attachment.get("payload") or {} if isinstance(attachment, dict) else {}
            if kind in MEDIA_KINDS:
                media_kind = "sticker" if payload.get("sticker_id") else MEDIA_KINDS[kind]
                url = require(payload, "url", f"message {item.provider_message_id} attachment")
                item.media.append(MediaRef(kind=media_kind, url=url))
                if item.content_type == "text":
                    item.content_type = media_kind
            elif kind == "location":
                coordinates = payload.get("coordinates") or {}
                item.content_type = "location"
                item.content.update(
                    {
                        "latitude": float(coordinates.get("lat")),
                        "longitude": float(coordinates.get("long")),
                        "name": attachment.get("title", ""),
                        "url": attachment.get("url", ""),
                    }
                )
            elif kind == "fallback":
                item.content.setdefault("links", []).append(
                    {"title": attachment.get("title", ""), "url": attachment.get("url", "")}
                )
            else:
                raise MalformedEvent(
                    f"message {item.provider_message_id}: attachment type {kind!r} unknown"
                )
        if not item.text and not item.media and item.content_type == "text" and not item.content:
            raise MalformedEvent(
                f"message {item.provider_message_id}: neither text nor attachments"
            )
        return item
    if isinstance(event.get("postback"), dict):
        postback = event["postback"]
        return InboundMessage(
            provider_message_id=postback.get("mid") or f"postback:{body_hash(dumps(event))}",
            sender_address=sender,
            content_type="postback",
            text=postback.get("title", ""),
            content={"payload": postback.get("payload", ""), "title": postback.get("title", "")},
            sent_at=at,
        )
    if isinstance(event.get("delivery"), dict):
        delivery = event["delivery"]
        mids = delivery.get("mids") or []
        watermark = from_unix(delivery.get("watermark"), millis=True)
        return StatusUpdate(
            status="delivered",
            provider_message_ids=list(mids),
            at=watermark or at,
            watermark_recipient="" if mids else sender,
        )
    if isinstance(event.get("read"), dict):
        watermark = from_unix(require(event["read"], "watermark", "read"), millis=True)
        return StatusUpdate(status="read", at=watermark, watermark_recipient=sender)
    return Ignored("Messenger event kind is not handled")


class MessengerProvider:
    kind = "messenger"
    content_type = "application/json"
    acknowledgement = "EVENT_RECEIVED"
    acknowledgement_type = "text/plain"

    def handshake(self, request: HttpRequest, asset) -> HttpResponse:
        return meta.handshake(request, asset)

    def signature_valid(self, request: HttpRequest, asset) -> bool:
        return meta.signature_valid(request, asset)

    def split(self, asset, body: bytes, content_type: str) -> Split:
        pieces = []
        for entry, event in _events(asset, load_json(body)):
            if "standby" in event:
                pieces.append(
                    StoredPiece(
                        f"standby:{body_hash(dumps(event))}", _envelope(entry, event), False
                    )
                )
                continue
            event_id, handled = _event_id(event)
            if handled:
                parsed = parse_event(event)
                handled = not isinstance(parsed, Ignored)
            pieces.append(StoredPiece(event_id, _envelope(entry, event), handled))
        if not pieces:
            raise MalformedEvent("envelope holds no messaging events")
        return Split(pieces)

    def parse(self, asset, body: str, content_type: str) -> list[Item]:
        items = [parse_event(event) for _entry, event in _events(asset, load_json(body))]
        return items or [Ignored("nothing to process")]

    def transport(self, asset) -> MessengerTransport:
        return MessengerTransport(asset)


PROVIDER = MessengerProvider()
