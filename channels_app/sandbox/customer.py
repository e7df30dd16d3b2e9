"""Plays a customer: builds a provider's webhook payload and signs it exactly as the provider would.

Used by the sandbox_customer command, the tests and the benchmark.
"""

import json
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from channels_app.models import ChannelAsset, ChannelKind
from channels_app.providers.meta import sign

MEDIA_KINDS = ("image", "voice", "audio", "document", "video", "sticker")


@dataclass
class SignedWebhook:
    url: str
    body: bytes
    headers: dict[str, str]


def webhook_path(asset: ChannelAsset) -> str:
    return f"/webhooks/{asset.kind}/{asset.uuid}/"


def whatsapp_payload(
    asset: ChannelAsset,
    *,
    sender: str,
    text: str = "",
    name: str = "Sandbox Customer",
    message_id: str = "",
    media: str = "",
    location: tuple[float, float] | None = None,
    reply_to: str = "",
) -> dict:
    wa_id = sender.lstrip("+")
    message: dict = {
        "from": wa_id,
        "id": message_id or f"wamid.SANDBOX{uuid.uuid4().hex.upper()}",
        "timestamp": str(int(time.time())),
    }
    if location:
        message |= {
            "type": "location",
            "location": {"latitude": location[0], "longitude": location[1], "name": text},
        }
    elif media:
        kind = "audio" if media == "voice" else media
        message |= {
            "type": kind,
            kind: {
                "id": f"sample-{media}",
                "mime_type": "",
                **({"voice": True} if media == "voice" else {}),
                **({"caption": text} if text else {}),
            },
        }
    else:
        message |= {"type": "text", "text": {"body": text}}
    if reply_to:
        message["context"] = {"from": asset.wa_phone_number_id, "id": reply_to}
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": asset.wa_business_account_id,
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550000000",
                                "phone_number_id": asset.wa_phone_number_id,
                            },
                            "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
                            "messages": [message],
                        },
                    }
                ],
            }
        ],
    }


def whatsapp_status_payload(
    asset: ChannelAsset, *, message_id: str, status: str, recipient: str
) -> dict:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": asset.wa_business_account_id,
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550000000",
                                "phone_number_id": asset.wa_phone_number_id,
                            },
                            "statuses": [
                                {
                                    "id": message_id,
                                    "status": status,
                                    "timestamp": str(int(time.time())),
                                    "recipient_id": recipient.lstrip("+"),
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }


def messenger_payload(
    asset: ChannelAsset, *, sender: str, text: str = "", message_id: str = "", media_url: str = ""
) -> dict:
    message: dict = {"mid": message_id or f"m_SANDBOX{uuid.uuid4().hex}"}
    if text:
        message["text"] = text
    if media_url:
        message["attachments"] = [{"type": "image", "payload": {"url": media_url}}]
    now = int(time.time() * 1000)
    return {
        "object": "page",
        "entry": [
            {
                "id": asset.fb_page_id,
                "time": now,
                "messaging": [
                    {
                        "sender": {"id": sender},
                        "recipient": {"id": asset.fb_page_id},
                        "timestamp": now,
                        "message": message,
                    }
                ],
            }
        ],
    }


def sms_form(
    asset: ChannelAsset,
    *,
    sender: str,
    text: str = "",
    message_id: str = "",
    media_urls: list[tuple[str, str]] = (),
) -> dict[str, str]:
    sid = message_id or f"SM{uuid.uuid4().hex}"
    form = {
        "MessageSid": sid,
        "SmsSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": asset.sms_account_sid,
        "From": sender,
        "To": asset.sms_number,
        "Body": text,
        "NumMedia": str(len(media_urls)),
        "NumSegments": "1",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
    }
    for index, (url, content_type) in enumerate(media_urls):
        form[f"MediaUrl{index}"] = url
        form[f"MediaContentType{index}"] = content_type
    return form


def sign_meta(asset: ChannelAsset, base_url: str, payload: dict | bytes) -> SignedWebhook:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return SignedWebhook(
        url=base_url.rstrip("/") + webhook_path(asset),
        body=body,
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign(asset.app_secret, body),
        },
    )


def sign_twilio(asset: ChannelAsset, base_url: str, form: dict[str, str]) -> SignedWebhook:
    url = base_url.rstrip("/") + webhook_path(asset)
    signature = RequestValidator(asset.auth_token).compute_signature(url, form)
    return SignedWebhook(
        url=url,
        body=urlencode(form).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
    )


def customer_webhook(
    asset: ChannelAsset,
    *,
    base_url: str,
    sender: str,
    text: str = "",
    media: str = "",
    location: tuple[float, float] | None = None,
    reply_to: str = "",
    name: str = "Sandbox Customer",
    media_base_url: str = "",
    html: bool = False,
) -> SignedWebhook:
    """The signed webhook a provider would post when this customer writes to the asset."""
    if asset.kind == ChannelKind.WHATSAPP:
        return sign_meta(
            asset,
            base_url,
            whatsapp_payload(
                asset,
                sender=sender,
                text=text,
                name=name,
                media=media,
                location=location,
                reply_to=reply_to,
            ),
        )
    media_url = (
        f"{media_base_url.rstrip('/')}/{asset.kind}/media/sample-{media}/download" if media else ""
    )
    if asset.kind == ChannelKind.MESSENGER:
        return sign_meta(
            asset, base_url, messenger_payload(asset, sender=sender, text=text, media_url=media_url)
        )
    if asset.kind == ChannelKind.SMS:
        types = {
            "image": "image/png",
            "voice": "audio/ogg",
            "audio": "audio/mpeg",
            "document": "application/pdf",
            "video": "video/mp4",
            "sticker": "image/webp",
        }
        return sign_twilio(
            asset,
            base_url,
            sms_form(
                asset,
                sender=sender,
                text=text,
                media_urls=[(media_url, types[media])] if media else [],
            ),
        )
    if asset.kind == ChannelKind.EMAIL:
        from channels_app.sandbox.fake_provider import SAMPLE_MEDIA
        from channels_app.sandbox.mail import customer_mail, mail_webhook_form

        attachment = None
        if media:
            content, content_type, filename = SAMPLE_MEDIA[f"sample-{media}"]
            attachment = (content, content_type, filename or f"sample-{media}")
        raw = customer_mail(
            sender=sender,
            to=asset.email_address,
            text=text,
            name=name,
            html=html,
            attachment=attachment,
            in_reply_to=reply_to,
        )
        body, content_type = mail_webhook_form(
            raw, key=asset.email_signing_key, recipient=asset.email_address
        )
        return SignedWebhook(
            url=base_url.rstrip("/") + webhook_path(asset),
            body=body,
            headers={"Content-Type": content_type},
        )
    if asset.kind == ChannelKind.APPLE:
        return sign_apple(asset, base_url, apple_message(asset, sender=sender, text=text))
    raise ValueError(f"no sandbox for {asset.kind} assets")


# --- Apple Messages for Business -----------------------------------------------------------------
APPLE_CAPABILITIES = "LIST,TIME,QUICK,FORMS,RICH"


def apple_message(
    asset: ChannelAsset,
    *,
    sender: str,
    text: str = "",
    attachments: list[dict] | None = None,
    interactive: dict | None = None,
) -> dict:
    """A message as Apple posts it: text (attachments marked in the body), or an interactive
    reply whose data holds the customer's choice."""
    message = {
        "v": 1,
        "id": str(uuid.uuid4()),
        "sourceId": sender,
        "destinationId": asset.apple_business_id,
    }
    if interactive is not None:
        from channels_app.providers.apple.transport import BID

        return message | {
            "type": "interactive",
            "interactiveData": {"bid": BID, "data": interactive},
        }
    body = text + "\ufffc" * len(attachments or [])
    return message | {
        "type": "text",
        "body": body,
        **({"attachments": attachments} if attachments else {}),
    }


def apple_event(asset: ChannelAsset, *, sender: str, kind: str) -> dict:
    """An event without content: typing_start, typing_end, or close (the conversation deleted)."""
    return {
        "v": 1,
        "id": str(uuid.uuid4()),
        "type": kind,
        "sourceId": sender,
        "destinationId": asset.apple_business_id,
    }


def apple_list_picker_answer(sent: dict, item_id: str) -> dict:
    """The data of an answer to a list picker we sent (its Apple payload): the chosen item only."""
    data = sent["interactiveData"]["data"]
    for section in data["listPicker"]["sections"]:
        for item in section["items"]:
            if item["identifier"] == item_id:
                return {
                    "version": "1.0",
                    "requestIdentifier": data.get("requestIdentifier", ""),
                    "listPicker": {"sections": [{**section, "items": [item]}]},
                    "replyMessage": {"title": item["title"], "style": "icon"},
                }
    raise ValueError(f"the list picker has no item {item_id!r}")


def sign_apple(asset: ChannelAsset, base_url: str, message: dict) -> SignedWebhook:
    """Apple's headers and its JWT, signed with the MSP secret for the MSP id."""
    from channels_app.providers.apple import auth

    body = json.dumps(message).encode()
    token = auth.token(secret=asset.apple_msp_secret, audience=asset.apple_msp_id)
    return SignedWebhook(
        url=base_url.rstrip("/") + webhook_path(asset),
        body=body,
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token}",
            "source-id": message["sourceId"],
            "destination-id": message["destinationId"],
            "id": message["id"],
            "capability-list": APPLE_CAPABILITIES,
        },
    )
