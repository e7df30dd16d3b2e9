import json

from channels_app.media import media_max_bytes
from channels_app.outbound_media import media_kind
from channels_app.providers import meta
from channels_app.providers.base import Media, MediaRef, PermanentSendError, SendResult
from channels_app.providers.http import call


class MessengerTransport:
    def __init__(self, asset):
        self.asset = asset
        self.base = (asset.api_base_url or meta.GRAPH_API_BASE_URL).rstrip("/")

    def _post(self, payload: dict, **headers: str):
        return call(
            "POST",
            f"{self.base}/{self.asset.fb_page_id}/messages",
            json=payload,
            headers={"Authorization": f"Bearer {self.asset.access_token}", **headers},
            reason=meta.graph_error_reason,
        )

    def send(self, *, message, to: str, idempotency_key: str) -> SendResult:
        if message.content.get("attachment"):
            attachment = message.attachments.get()
            if not attachment.provider_media_id:
                raise PermanentSendError("the file was not uploaded to Messenger")
            body = {
                "attachment": {
                    "type": self._type(attachment),
                    "payload": {"attachment_id": attachment.provider_media_id},
                }
            }
        else:
            body = {"text": message.text}
        response = self._post(
            {"recipient": {"id": to}, "messaging_type": "RESPONSE", "message": body},
            **{"Idempotency-Key": idempotency_key},
        )
        try:
            return SendResult(provider_message_id=response.json()["message_id"])
        except (ValueError, KeyError) as exc:
            raise PermanentSendError(
                f"unexpected answer from Messenger: {response.text[:200]}"
            ) from exc

    @staticmethod
    def _type(attachment) -> str:
        kind = media_kind(attachment.detected_content_type)
        return "file" if kind == "document" else kind

    def upload(self, *, attachment) -> str:
        """Attachment Upload API: a reusable attachment id the send refers to."""
        with attachment.file.open("rb") as handle:
            content = handle.read()
        message = {"attachment": {"type": self._type(attachment), "payload": {"is_reusable": True}}}
        response = call(
            "POST",
            f"{self.base}/me/message_attachments",
            data={"message": json.dumps(message)},
            files={
                "filedata": (
                    attachment.filename or "file",
                    content,
                    attachment.detected_content_type,
                )
            },
            headers={"Authorization": f"Bearer {self.asset.access_token}"},
            reason=meta.graph_error_reason,
        )
        try:
            return str(response.json()["attachment_id"])
        except (ValueError, KeyError) as exc:
            raise PermanentSendError(
                f"unexpected answer from Messenger's attachment upload: {response.text[:200]}"
            ) from exc

    def mark_read(self, *, message) -> None:
        self._post(
            {
                "recipient": {"id": message.conversation.identity.address},
                "sender_action": "mark_seen",
            }
        )

    def typing(self, *, conversation, reply_to) -> None:
        """The customer sees the page typing (sender action typing_on)."""
        self._post(
            {"recipient": {"id": conversation.identity.address}, "sender_action": "typing_on"}
        )

    def download(self, *, ref: MediaRef) -> Media:
        response = call(
            "GET",
            ref.url,
            max_bytes=media_max_bytes(self.asset.kind),
            reason=lambda r: r.text[:200],
        )
        return Media(
            content=response.content,
            content_type=response.headers.get("content-type", ""),
            filename=ref.filename,
        )
