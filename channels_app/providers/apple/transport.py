"""Outbound: Apple's POST /v1/message with the business in `source-id`, the customer in
`destination-id` and our message id in `id`. Files both ways are AES-256-CTR encrypted (zero IV,
a fresh key per file): inbound through /v1/preDownload, then the download URL, then decryption
with the key Apple sent; outbound encrypted here, then /v1/preUpload, the upload of the
encrypted bytes, and the message's `attachments[]` with the key."""

import base64
import binascii
import os
import uuid

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from channels_app.media import media_max_bytes
from channels_app.providers.apple import auth
from channels_app.providers.base import Media, MediaRef, PermanentSendError, SendResult
from channels_app.providers.http import call
from config.outbound import OutboundResponse

APPLE_API_BASE_URL = "https://mspgw.push.apple.com"
# The balloon Apple's interactive messages (list picker, time picker, quick reply) are shown in.
BID = (
    "com.apple.messages.MSMessageExtensionBalloonPlugin:0000000000:"
    "com.apple.icloud.apps.messages.business.extension"
)
RICH_TYPES = ("list_picker", "time_picker", "form", "rich_link", "quick_reply")


def apple_reason(response: OutboundResponse) -> str:
    text = response.text[:200]
    return text or "no reason given"


def decrypt(data: bytes, key: str) -> bytes:
    """Apple's attachment key is hex with a leading 00 byte; AES-256 in CTR mode, IV zero."""
    try:
        raw = bytes.fromhex(key)
    except ValueError as exc:
        raise PermanentSendError("the attachment key is not hex") from exc
    if len(raw) == 33 and raw[0] == 0:
        raw = raw[1:]
    if len(raw) != 32:
        raise PermanentSendError("the attachment key is not a 256-bit key")
    decryptor = Cipher(algorithms.AES(raw), modes.CTR(b"\x00" * 16)).decryptor()
    return decryptor.update(data) + decryptor.finalize()


encrypt = decrypt  # CTR mode: the same operation both ways


def new_key() -> str:
    """A random AES-256 key written as Apple writes it: hex, with a leading 00 byte."""
    return "00" + os.urandom(32).hex()


# Apple's text marks each attachment's place in the body with this character.
OBJECT_REPLACEMENT = "\ufffc"


def _items(raw: list, where: str) -> list[dict]:
    if not isinstance(raw, list) or not raw:
        raise PermanentSendError(f"a {where} needs at least one item")
    items = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict) or not str(entry.get("title", "")).strip():
            raise PermanentSendError(f"{where} item {index + 1} needs a title")
        items.append(entry)
    return items


def interactive_payload(content: dict, fallback_text: str) -> dict:
    """Our rich content (the desktop builder's and the flows' shape) in Apple's format."""
    kind = content.get("type")
    title = str(content.get("title") or fallback_text or "")
    request_id = str(uuid.uuid4())
    received = {"title": title, "style": "icon"}
    if content.get("subtitle"):
        received["subtitle"] = content["subtitle"]
    if kind == "rich_link":
        if not str(content.get("url", "")).startswith(("https://", "http://")):
            raise PermanentSendError("a rich link needs an http(s) URL")
        return {
            "type": "richLink",
            "richLinkData": {"url": content["url"], "title": title, "assets": {}},
        }
    data: dict = {"version": "1.0", "requestIdentifier": request_id, "mspVersion": "1.0"}
    if kind == "list_picker":
        items = _items(content.get("items"), "list picker")
        data["listPicker"] = {
            "sections": [
                {
                    "order": 0,
                    "title": content.get("section_title", title),
                    "multipleSelection": bool(content.get("multiple")),
                    "items": [
                        {
                            "identifier": str(item.get("id") or index),
                            "order": index,
                            "style": "default",
                            "title": item["title"],
                            **({"subtitle": item["subtitle"]} if item.get("subtitle") else {}),
                        }
                        for index, item in enumerate(items)
                    ],
                }
            ]
        }
    elif kind == "time_picker":
        slots = content.get("slots")
        if not isinstance(slots, list) or not slots:
            raise PermanentSendError("a time picker needs at least one time slot")
        data["event"] = {
            "identifier": str(content.get("id") or request_id),
            "title": title,
            "timeslots": [
                {
                    "identifier": str(slot.get("id") or index),
                    "startTime": str(slot["start"]),
                    "duration": int(slot.get("duration", 1800)),
                }
                for index, slot in enumerate(slots)
                if isinstance(slot, dict) and slot.get("start")
            ],
        }
        if not data["event"]["timeslots"]:
            raise PermanentSendError("a time picker's slots need a start time")
    elif kind == "form":
        pages = content.get("pages")
        if not isinstance(pages, list) or not pages:
            raise PermanentSendError("a form needs at least one page")
        data["dynamic"] = {
            "template": "messageForms",
            "data": {
                "pages": [
                    {
                        "pageIdentifier": str(page.get("id") or index),
                        "type": page.get("type", "input"),
                        "title": page.get("title", ""),
                        **({"options": page["options"]} if page.get("options") else {}),
                    }
                    for index, page in enumerate(pages)
                    if isinstance(page, dict)
                ]
            },
        }
    elif kind == "quick_reply":
        items = _items(content.get("items"), "quick reply")
        if not 2 <= len(items) <= 5:
            raise PermanentSendError("quick replies take 2 to 5 items")
        data["quick-reply"] = {
            "summaryText": title,
            "items": [
                {"identifier": str(item.get("id") or index), "title": item["title"]}
                for index, item in enumerate(items)
            ],
        }
    else:
        raise PermanentSendError(f"Apple has no rich message of type {kind!r}")
    return {
        "type": "interactive",
        "interactiveData": {
            "bid": BID,
            "data": data,
            "receivedMessage": received,
            "replyMessage": {"title": content.get("reply_title", title), "style": "icon"},
        },
    }


class AppleTransport:
    def __init__(self, asset):
        self.asset = asset
        self.base = (asset.api_base_url or APPLE_API_BASE_URL).rstrip("/")

    def _headers(self, **extra: str) -> dict[str, str]:
        token = auth.token(secret=self.asset.apple_msp_secret, audience=self.asset.apple_msp_id)
        return {
            "Authorization": f"Bearer {token}",
            "source-id": self.asset.apple_business_id,
            **extra,
        }

    def send(self, *, message, to: str, idempotency_key: str) -> SendResult:
        message_id = str(idempotency_key)
        body: dict = {"v": 1, "id": message_id, "sourceId": self.asset.apple_business_id}
        body["destinationId"] = to
        content = message.content or {}
        if content.get("attachment"):
            attachment = message.attachments.get()
            caption = content.get("caption") or message.text or ""
            body |= {
                "type": "text",
                "body": OBJECT_REPLACEMENT + (f"\n{caption}" if caption else ""),
                "attachments": [self.upload_encrypted(attachment=attachment)],
            }
        elif content.get("type") in RICH_TYPES:
            body |= interactive_payload(content, message.text)
        else:
            body |= {"type": "text", "body": message.text}
        call(
            "POST",
            f"{self.base}/v1/message",
            json=body,
            headers=self._headers(**{"id": message_id, "destination-id": to}),
            reason=apple_reason,
        )
        # Apple answers 200 without a body: the message id is the one we chose.
        return SendResult(provider_message_id=message_id)

    def upload_encrypted(self, *, attachment) -> dict:
        """Encrypts the file with a fresh key, asks Apple where to put it (/v1/preUpload), uploads
        the encrypted bytes there and answers the attachment as the message carries it."""
        with attachment.file.open("rb") as handle:
            plain = handle.read()
        key = new_key()
        encrypted = encrypt(plain, key)
        answer = call(
            "GET",
            f"{self.base}/v1/preUpload",
            headers=self._headers(**{"MMCS-Size": str(len(encrypted))}),
            reason=apple_reason,
        )
        try:
            where = answer.json()
            upload_url = str(where["upload-url"])
            mmcs_url = str(where["mmcs-url"])
            owner = str(where["mmcs-owner"])
        except (ValueError, KeyError, TypeError) as exc:
            raise PermanentSendError(
                f"unexpected answer from Apple's preUpload: {answer.text[:200] or 'empty'}"
            ) from exc
        if not upload_url.startswith(("https://", "http://")) or not mmcs_url or not owner:
            raise PermanentSendError(
                f"unexpected answer from Apple's preUpload: {answer.text[:200]}"
            )
        uploaded = call(
            "POST",
            upload_url,
            content=encrypted,
            headers={"Content-Type": "application/octet-stream"},
            reason=apple_reason,
        )
        try:
            checksum = str(uploaded.json()["singleFile"]["fileChecksum"])
            base64.b64decode(checksum, validate=True)
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise PermanentSendError(
                f"unexpected answer from Apple's upload: {uploaded.text[:200] or 'empty'}"
            ) from exc
        return {
            "name": attachment.filename or "file",
            "mimeType": attachment.detected_content_type
            or attachment.declared_content_type
            or "application/octet-stream",
            "size": len(encrypted),
            "signature-base64": checksum,
            "url": mmcs_url,
            "owner": owner,
            "key": key,
        }

    def typing(self, *, conversation, reply_to) -> None:
        """Apple's typing_start: the customer sees the business typing until a message comes."""
        to = conversation.identity.address
        message_id = str(uuid.uuid4())
        call(
            "POST",
            f"{self.base}/v1/message",
            json={
                "v": 1,
                "id": message_id,
                "sourceId": self.asset.apple_business_id,
                "destinationId": to,
                "type": "typing_start",
            },
            headers=self._headers(**{"id": message_id, "destination-id": to}),
            reason=apple_reason,
        )

    def mark_read(self, *, message) -> None:
        """Apple's MSP API has no read receipts for the business side."""

    def download(self, *, ref: MediaRef) -> Media:
        key = getattr(ref, "key", "")
        if not key:
            raise PermanentSendError("an Apple attachment comes with its decryption key")
        answer = call(
            "GET",
            f"{self.base}/v1/preDownload",
            headers=self._headers(
                **{
                    "MMCS-Url": ref.url,
                    "MMCS-Signature": getattr(ref, "signature", ""),
                    "MMCS-Owner": getattr(ref, "owner", ""),
                }
            ),
            reason=apple_reason,
        )
        try:
            download_url = answer.json()["download-url"]
        except (ValueError, KeyError, TypeError) as exc:
            raise PermanentSendError(
                f"unexpected answer from Apple's preDownload: {answer.text[:200]}"
            ) from exc
        response = call(
            "GET",
            download_url,
            max_bytes=media_max_bytes(self.asset.kind),
            reason=apple_reason,
        )
        return Media(
            content=decrypt(response.content, key),
            content_type=ref.declared_content_type,
            filename=ref.filename,
        )
