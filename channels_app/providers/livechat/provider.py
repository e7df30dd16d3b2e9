"""The live-chat "provider": the widget's endpoints store a visitor's message as a raw event,
keyed by the visitor and the widget's client-generated id, and the shared pipeline takes it from
there. There is no webhook: a POST to /webhooks/chat/... is always refused (403)."""

import json

from django.http import HttpRequest, HttpResponse

from channels_app.outbound_media import media_kind
from channels_app.providers.base import (
    InboundMessage,
    Item,
    MalformedEvent,
    MediaRef,
    Split,
    StoredPiece,
)
from channels_app.providers.livechat.transport import LiveChatTransport


def event_body(
    *,
    visitor: str,
    client_id: str,
    text: str,
    name: str = "",
    variables: dict | None = None,
    upload: dict | None = None,
) -> StoredPiece:
    """variables: what a new conversation starts with (pre-chat answers, an offline message's
    email); upload: a visitor's file spooled in storage ({"name", "filename", "content_type"})."""
    data = {"visitor": visitor, "client_id": client_id, "text": text, "name": name}
    if variables:
        data["variables"] = variables
    if upload:
        data["upload"] = upload
    return StoredPiece(provider_event_id=f"{visitor}:{client_id}", body=json.dumps(data))


class LiveChatProvider:
    kind = "chat"
    content_type = "application/json"
    acknowledgement = ""
    acknowledgement_type = "text/plain"

    def handshake(self, request: HttpRequest, asset) -> HttpResponse | None:
        return None

    def signature_valid(self, request: HttpRequest, asset) -> bool:
        return False

    def split(self, asset, body: bytes, content_type: str) -> Split:
        raise MalformedEvent("live chat has no webhook")

    def parse(self, asset, body: str, content_type: str) -> list[Item]:
        try:
            data = json.loads(body)
            visitor, client_id = str(data["visitor"]), str(data["client_id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedEvent(f"not a live-chat event: {exc}") from exc
        variables = data.get("variables") or {}
        upload = data.get("upload") or {}
        media = []
        if isinstance(upload, dict) and upload.get("name"):
            media.append(
                MediaRef(
                    kind=media_kind(str(upload.get("content_type", ""))),
                    media_id=str(upload["name"]),
                    declared_content_type=str(upload.get("content_type", "")),
                    filename=str(upload.get("filename", "")),
                )
            )
        return [
            InboundMessage(
                provider_message_id=f"{visitor}:{client_id}",
                sender_address=visitor,
                content_type=media[0].kind if media else "text",
                text=str(data.get("text", "")),
                sender_name=str(data.get("name", ""))[:120],
                variables=variables if isinstance(variables, dict) else {},
                media=media,
            )
        ]

    def transport(self, asset) -> LiveChatTransport:
        return LiveChatTransport(asset)


PROVIDER = LiveChatProvider()
