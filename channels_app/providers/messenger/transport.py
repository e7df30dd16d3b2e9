from channels_app.media import media_max_bytes
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
        response = self._post(
            {
                "recipient": {"id": to},
                "messaging_type": "RESPONSE",
                "message": {"text": message.text},
            },
            **{"Idempotency-Key": idempotency_key},
        )
        try:
            return SendResult(provider_message_id=response.json()["message_id"])
        except (ValueError, KeyError) as exc:
            raise PermanentSendError(
                f"unexpected answer from Messenger: {response.text[:200]}"
            ) from exc

    def mark_read(self, *, message) -> None:
        self._post(
            {
                "recipient": {"id": message.conversation.identity.address},
                "sender_action": "mark_seen",
            }
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
