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
from channels_app.providers.util import (
    body_hash,
    coordinate,
    dumps,
    from_unix,
    load_json,
    require,
    require_list,
)
from channels_app.providers.whatsapp.transport import WhatsAppTransport

MEDIA_TYPES = ("image", "document", "audio", "video", "sticker")
STATUSES = {"sent": "sent", "delivered": "delivered", "read": "read", "failed": "failed"}


def _entries(asset, data: Any) -> list[tuple[dict, dict]]:
    """(entry, change value) pairs of an envelope, after checking it is for this asset."""
    if not isinstance(data, dict) or data.get("object") != "whatsapp_business_account":
        raise MalformedEvent("object must be whatsapp_business_account")
    pairs = []
    for entry in require_list(data, "entry", "envelope"):
        for change in require_list(entry, "changes", "entry"):
            if not isinstance(change, dict):
                raise MalformedEvent("entry: a change must be an object")
            value = change.get("value")
            if change.get("field") == "messages":
                if not isinstance(value, dict):
                    raise MalformedEvent("change: missing value")
                phone_id = str((value.get("metadata") or {}).get("phone_number_id", ""))
                if asset.wa_phone_number_id and phone_id != asset.wa_phone_number_id:
                    raise MalformedEvent(
                        f"event for phone number id {phone_id!r}, not this asset's"
                    )
            pairs.append((entry, change))
    return pairs


def _envelope(entry: dict, change: dict, value: dict) -> str:
    return dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {"id": entry.get("id", ""), "changes": [{"field": change["field"], "value": value}]}
            ],
        }
    )


def _contact_names(value: dict) -> dict[str, str]:
    names = {}
    for contact in value.get("contacts") or []:
        if isinstance(contact, dict) and contact.get("wa_id"):
            names[str(contact["wa_id"])] = (contact.get("profile") or {}).get("name", "")
    return names


def _contacts(raw: Any) -> list[dict]:
    if not isinstance(raw, list):
        raise MalformedEvent("contacts must be a list")
    result = []
    for card in raw:
        name = card.get("name") or {}
        result.append(
            {
                "name": name.get("formatted_name")
                or " ".join(p for p in (name.get("first_name"), name.get("last_name")) if p),
                "phones": [
                    {k: p.get(k, "") for k in ("phone", "wa_id", "type")}
                    for p in card.get("phones") or []
                ],
                "emails": [
                    {k: e.get(k, "") for k in ("email", "type")} for e in card.get("emails") or []
                ],
                "organization": (card.get("org") or {}).get("company", ""),
                "urls": [u.get("url", "") for u in card.get("urls") or []],
            }
        )
    return result


def parse_message(msg: Any, names: dict[str, str]) -> InboundMessage | Ignored:
    mid = require(msg, "id", "message")
    where = f"message {mid}"
    sender = str(require(msg, "from", where))
    kind = require(msg, "type", where)
    context = msg.get("context") or {}
    item = InboundMessage(
        provider_message_id=mid,
        sender_address=sender,
        sender_name=names.get(sender, ""),
        reply_to_provider_id=context.get("id", ""),
        sent_at=from_unix(msg.get("timestamp")),
    )
    if context.get("forwarded") or context.get("frequently_forwarded"):
        item.content["forwarded"] = True
    try:
        if kind == "text":
            item.text = require(msg["text"], "body", where)
        elif kind in MEDIA_TYPES:
            media = msg[kind]
            media_id = require(media, "id", where)
            voice = kind == "audio" and bool(media.get("voice"))
            item.content_type = "voice" if voice else kind
            item.text = media.get("caption", "")
            item.content.update(
                {"media_id": media_id, "mime_type": media.get("mime_type", "")}
                | ({"filename": media["filename"]} if media.get("filename") else {})
                | ({"animated": bool(media.get("animated"))} if kind == "sticker" else {})
                | ({"voice": True} if voice else {})
            )
            item.media.append(
                MediaRef(
                    kind=item.content_type,
                    media_id=media_id,
                    declared_content_type=media.get("mime_type", ""),
                    filename=media.get("filename", ""),
                )
            )
        elif kind == "location":
            loc = msg["location"]
            item.content_type = "location"
            item.content.update(
                {
                    "latitude": coordinate(
                        require(loc, "latitude", where), limit=90, where=f"{where} latitude"
                    ),
                    "longitude": coordinate(
                        require(loc, "longitude", where), limit=180, where=f"{where} longitude"
                    ),
                    "name": loc.get("name", ""),
                    "address": loc.get("address", ""),
                    "url": loc.get("url", ""),
                }
            )
            item.text = ", ".join(p for p in (loc.get("name"), loc.get("address")) if p)
        elif kind == "contacts":
            item.content_type = "contacts"
            item.content["contacts"] = _contacts(msg["contacts"])
            item.text = ", ".join(c["name"] for c in item.content["contacts"] if c["name"])
        elif kind == "reaction":
            reaction = msg["reaction"]
            item.content_type = "reaction"
            item.reply_to_provider_id = require(reaction, "message_id", where)
            item.content.update(
                {"emoji": reaction.get("emoji", ""), "message_id": reaction["message_id"]}
            )
            item.text = reaction.get("emoji", "")
        elif kind == "button":
            item.content_type = "quick_reply"
            item.text = msg["button"].get("text", "")
            item.content["payload"] = msg["button"].get("payload", "")
        elif kind == "interactive":
            interactive = msg["interactive"]
            reply = interactive.get(interactive.get("type", ""), {})
            item.content_type = "interactive"
            item.text = reply.get("title", "")
            item.content.update(
                {
                    "reply_type": interactive.get("type", ""),
                    "reply_id": reply.get("id", ""),
                    "description": reply.get("description", ""),
                }
            )
        else:
            return Ignored(f"WhatsApp message type {kind!r} is not handled")
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        if isinstance(exc, MalformedEvent):
            raise
        raise MalformedEvent(
            f"{where}: {kind} payload is malformed ({type(exc).__name__}: {exc})"
        ) from exc
    return item


def parse_status(status: Any) -> StatusUpdate | Ignored:
    mid = require(status, "id", "status")
    value = require(status, "status", f"status of {mid}")
    if value not in STATUSES:
        return Ignored(f"WhatsApp status {value!r} is not handled")
    errors = status.get("errors") or []
    reason = "; ".join(
        f"{e.get('title') or e.get('message', '')} [code {e.get('code', '?')}]"
        + (f": {e['error_data']['details']}" if (e.get("error_data") or {}).get("details") else "")
        for e in errors
        if isinstance(e, dict)
    )
    return StatusUpdate(
        status=STATUSES[value],
        provider_message_ids=[mid],
        at=from_unix(status.get("timestamp")),
        error=reason,
    )


class WhatsAppProvider:
    kind = "whatsapp"
    content_type = "application/json"
    acknowledgement = "EVENT_RECEIVED"
    acknowledgement_type = "text/plain"

    def handshake(self, request: HttpRequest, asset) -> HttpResponse:
        return meta.handshake(request, asset)

    def signature_valid(self, request: HttpRequest, asset) -> bool:
        return meta.signature_valid(request, asset)

    def split(self, asset, body: bytes, content_type: str) -> Split:
        data = load_json(body)
        pieces: list[StoredPiece] = []
        for entry, change in _entries(asset, data):
            value = change.get("value")
            if change.get("field") != "messages":
                pieces.append(
                    StoredPiece(
                        f"field:{body_hash(dumps(change))}", _envelope(entry, change, value), False
                    )
                )
                continue
            names = _contact_names(value)
            contacts = [c for c in value.get("contacts") or []]
            messages = value.get("messages") or []
            statuses = value.get("statuses") or []
            if not isinstance(messages, list) or not isinstance(statuses, list):
                raise MalformedEvent("value: messages and statuses must be lists")
            for msg in messages:
                parsed = parse_message(msg, names)
                piece_value = {
                    **{k: v for k, v in value.items() if k not in ("messages", "statuses")},
                    "contacts": [
                        c for c in contacts if str(c.get("wa_id")) == str(msg.get("from"))
                    ],
                    "messages": [msg],
                }
                pieces.append(
                    StoredPiece(
                        msg["id"],
                        _envelope(entry, change, piece_value),
                        not isinstance(parsed, Ignored),
                    )
                )
            for status in statuses:
                parsed = parse_status(status)
                piece_value = {
                    **{
                        k: v
                        for k, v in value.items()
                        if k not in ("messages", "statuses", "contacts")
                    },
                    "statuses": [status],
                }
                pieces.append(
                    StoredPiece(
                        f"{status['id']}:{status['status']}",
                        _envelope(entry, change, piece_value),
                        not isinstance(parsed, Ignored),
                    )
                )
            if not messages and not statuses:
                pieces.append(
                    StoredPiece(
                        f"other:{body_hash(dumps(value))}", _envelope(entry, change, value), False
                    )
                )
        if not pieces:
            raise MalformedEvent("envelope holds no changes")
        return Split(pieces)

    def parse(self, asset, body: str, content_type: str) -> list[Item]:
        items: list[Item] = []
        for _entry, change in _entries(asset, load_json(body)):
            value = change.get("value") or {}
            if change.get("field") != "messages":
                items.append(Ignored(f"WhatsApp field {change.get('field')!r} is not handled"))
                continue
            names = _contact_names(value)
            items += [parse_message(msg, names) for msg in value.get("messages") or []]
            items += [parse_status(status) for status in value.get("statuses") or []]
        return items or [Ignored("nothing to process")]

    def transport(self, asset) -> WhatsAppTransport:
        return WhatsAppTransport(asset)


PROVIDER = WhatsAppProvider()
