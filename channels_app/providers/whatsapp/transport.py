from channels_app.media import media_max_bytes
from channels_app.outbound_media import media_kind
from channels_app.providers import meta
from channels_app.providers.base import Media, MediaRef, PermanentSendError, SendResult
from channels_app.providers.http import call


class WhatsAppTransport:
    def __init__(self, asset):
        self.asset = asset
        self.base = (asset.api_base_url or meta.GRAPH_API_BASE_URL).rstrip("/")

    def _headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.asset.access_token}", **extra}

    def send(self, *, message, to: str, idempotency_key: str) -> SendResult:
        payload: dict = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to}
        if message.content_type == "template":
            template = message.content["template"]
            payload |= {
                "type": "template",
                "template": {
                    "name": template["name"],
                    "language": {"code": template.get("language", "en_US")},
                    **(
                        {"components": template["components"]} if template.get("components") else {}
                    ),
                },
            }
        elif message.content.get("attachment"):
            payload |= self._media_payload(message)
        else:
            payload |= {"type": "text", "text": {"body": message.text, "preview_url": False}}
        if message.reply_to_provider_id:
            payload["context"] = {"message_id": message.reply_to_provider_id}
        response = call(
            "POST",
            f"{self.base}/{self.asset.wa_phone_number_id}/messages",
            json=payload,
            headers=self._headers(**{"Idempotency-Key": idempotency_key}),
            reason=meta.graph_error_reason,
        )
        try:
            return SendResult(provider_message_id=response.json()["messages"][0]["id"])
        except (ValueError, KeyError, IndexError) as exc:
            raise PermanentSendError(
                f"unexpected answer from WhatsApp: {response.text[:200]}"
            ) from exc

    def _media_payload(self, message) -> dict:
        attachment = message.attachments.get()
        if not attachment.provider_media_id:
            raise PermanentSendError("the file was not uploaded to WhatsApp")
        kind = media_kind(attachment.detected_content_type)
        media: dict = {"id": attachment.provider_media_id}
        caption = message.content.get("caption", "")
        if caption and kind != "audio":  # audio takes no caption
            media["caption"] = caption
        if kind == "document":
            media["filename"] = attachment.filename or "document"
        return {"type": kind, kind: media}

    def upload(self, *, attachment) -> str:
        """Cloud API media upload; the id it answers is what the send refers to."""
        with attachment.file.open("rb") as handle:
            content = handle.read()
        content_type = attachment.detected_content_type
        response = call(
            "POST",
            f"{self.base}/{self.asset.wa_phone_number_id}/media",
            data={"messaging_product": "whatsapp", "type": content_type},
            files={"file": (attachment.filename or "file", content, content_type)},
            headers=self._headers(),
            reason=meta.graph_error_reason,
        )
        try:
            return str(response.json()["id"])
        except (ValueError, KeyError) as exc:
            raise PermanentSendError(
                f"unexpected answer from WhatsApp's media upload: {response.text[:200]}"
            ) from exc

    def message_templates(self) -> list[dict]:
        """Every template of the business account, following the pages."""
        templates: list[dict] = []
        after = ""
        for _page in range(50):
            params = {
                "fields": "name,language,status,category,components",
                "limit": "100",
                **({"after": after} if after else {}),
            }
            data = call(
                "GET",
                f"{self.base}/{self.asset.wa_business_account_id}/message_templates",
                params=params,
                headers=self._headers(),
                reason=meta.graph_error_reason,
            ).json()
            templates.extend(data.get("data") or [])
            paging = data.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after", "")
            if not paging.get("next") or not after:
                break
        return templates

    def mark_read(self, *, message) -> None:
        call(
            "POST",
            f"{self.base}/{self.asset.wa_phone_number_id}/messages",
            json={
                "messaging_product": "whatsapp",
                "status": "read",
                "message_id": message.provider_message_id,
            },
            headers=self._headers(),
            reason=meta.graph_error_reason,
        )

    def typing(self, *, conversation, reply_to) -> None:
        """WhatsApp shows typing together with the read receipt of the customer's last message."""
        if reply_to is None or not reply_to.provider_message_id:
            return
        call(
            "POST",
            f"{self.base}/{self.asset.wa_phone_number_id}/messages",
            json={
                "messaging_product": "whatsapp",
                "status": "read",
                "message_id": reply_to.provider_message_id,
                "typing_indicator": {"type": "text"},
            },
            headers=self._headers(),
            reason=meta.graph_error_reason,
        )

    def download(self, *, ref: MediaRef) -> Media:
        url = ref.url
        content_type = ref.declared_content_type
        if not url:
            info = call(
                "GET",
                f"{self.base}/{ref.media_id}",
                headers=self._headers(),
                reason=meta.graph_error_reason,
            ).json()
            url = info["url"]
            content_type = content_type or info.get("mime_type", "")
        response = call(
            "GET",
            url,
            headers=self._headers(),
            max_bytes=media_max_bytes(self.asset.kind),
            reason=lambda r: r.text[:200],
        )
        return Media(
            content=response.content,
            content_type=content_type or response.headers.get("content-type", ""),
            filename=ref.filename,
        )
