from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from channels_app.models import ChannelAsset, Direction, Message
from channels_app.sandbox.customer import (
    MEDIA_KINDS,
    SignedWebhook,
    apple_event,
    apple_list_picker_answer,
    apple_message,
    customer_webhook,
    sign_apple,
)

DEFAULT_SENDERS = {
    "whatsapp": "+4915112345678",
    "sms": "+4915112345678",
    "messenger": "7300000000000001",
    "email": "customer@example.org",
    "apple": "urn:mbid:AQAAYsandbox-customer-0001",
}


class Command(BaseCommand):
    help = (
        "Plays a customer: signs and posts a webhook exactly as WhatsApp, Messenger, Twilio or a "
        "mail service (email: the raw mail, Mailgun's signature) would."
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=sorted(DEFAULT_SENDERS))
        parser.add_argument("text", nargs="?", default="")
        parser.add_argument(
            "--from",
            dest="sender",
            help="customer's number (E.164), Messenger PSID or email address",
        )
        parser.add_argument("--name", default="Sandbox Customer", help="WhatsApp profile name")
        parser.add_argument(
            "--asset", help="asset uuid (default: the demo tenant's asset of that kind)"
        )
        parser.add_argument(
            "--base-url", default="", help="where our server listens (default PUBLIC_BASE_URL)"
        )
        parser.add_argument(
            "--media", choices=MEDIA_KINDS, help="attach the fake provider's sample media"
        )
        parser.add_argument(
            "--location", help="WhatsApp location as LAT,LON (text becomes its name)"
        )
        parser.add_argument(
            "--reply-to",
            default="",
            help="WhatsApp: the provider id of the message replied to; email: its Message-ID",
        )
        parser.add_argument(
            "--html", action="store_true", help="email: add an HTML part with a table and a link"
        )
        parser.add_argument(
            "--choose",
            default="",
            help="apple: answer the last list picker sent to this customer with this item id",
        )
        parser.add_argument(
            "--event",
            choices=["typing_start", "typing_end", "close"],
            default="",
            help="apple: the customer starts or stops typing, or deletes the conversation",
        )

    def handle(
        self,
        *args,
        kind,
        text,
        sender,
        name,
        asset,
        base_url,
        media,
        location,
        reply_to,
        html=False,
        choose="",
        event="",
        **options,
    ):
        assets = ChannelAsset.objects.filter(kind=kind)
        found = (
            assets.filter(uuid=asset).first()
            if asset
            else assets.filter(tenant__slug="demo").first()
        )
        if found is None:
            raise CommandError(
                f"no {kind} asset found; run `python manage.py demo_seed` or pass --asset"
            )
        base_url = base_url or _server_of(found) or settings.PUBLIC_BASE_URL
        coordinates = None
        if location:
            try:
                lat, lon = (float(part) for part in location.split(","))
            except ValueError as exc:
                raise CommandError("--location is LAT,LON, e.g. 52.52,13.405") from exc
            coordinates = (lat, lon)
        if event and kind != "apple":
            raise CommandError("--event is for apple")
        if not (text or media or coordinates or choose or event):
            raise CommandError(
                "say something: give a text, --media, --location, --choose or --event"
            )
        media_base_url = (
            found.api_base_url.rstrip("/").removesuffix(f"/{kind}")
            or f"{base_url.rstrip('/')}/sandbox/provider"
        )
        if event:
            sender = sender or DEFAULT_SENDERS[kind]
            webhook = sign_apple(found, base_url, apple_event(found, sender=sender, kind=event))
        elif kind == "apple":
            webhook = _apple_webhook(
                found,
                base_url=base_url,
                sender=sender or DEFAULT_SENDERS[kind],
                text=text,
                media=media or "",
                choose=choose,
                media_base_url=media_base_url,
            )
        else:
            webhook = customer_webhook(
                found,
                base_url=base_url,
                sender=sender or DEFAULT_SENDERS[kind],
                text=text,
                media=media or "",
                location=coordinates,
                reply_to=reply_to,
                name=name,
                html=html,
                media_base_url=media_base_url,
            )
        try:
            response = httpx.post(
                webhook.url, content=webhook.body, headers=webhook.headers, timeout=30
            )
        except httpx.HTTPError as exc:
            raise CommandError(
                f"could not reach {webhook.url}: {exc} (is the server running?)"
            ) from exc
        self.stdout.write(f"POST {webhook.url} -> {response.status_code} {response.text[:200]}")
        if response.status_code != 200:
            raise CommandError("the webhook was not accepted")


def _server_of(asset: ChannelAsset) -> str:
    """A demo asset calls the sandbox provider of the server that seeded it: that server is also
    the one to post the customer's webhook to, whatever PORT this shell has."""
    api = urlsplit(asset.api_base_url or "")
    if api.scheme and "/sandbox/provider/" in api.path + "/":
        return f"{api.scheme}://{api.netloc}"
    return ""


def _apple_webhook(
    asset: ChannelAsset,
    *,
    base_url: str,
    sender: str,
    text: str,
    media: str,
    choose: str,
    media_base_url: str,
) -> SignedWebhook:
    """Apple's message: a text (with the fake provider's sample file, encrypted as Apple serves
    attachments), or the answer to the last list picker this customer was sent."""
    if choose:
        sent = (
            Message.objects.filter(
                asset=asset,
                conversation__identity__address=sender,
                direction=Direction.OUTBOUND,
                content__type="list_picker",
            )
            .order_by("-id")
            .first()
        )
        if sent is None:
            raise CommandError(f"no list picker was sent to {sender}")
        from channels_app.providers.apple.transport import interactive_payload

        payload = sent.content.get("apple") or interactive_payload(sent.content, sent.text)
        try:
            answer = apple_list_picker_answer(payload, choose)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        return sign_apple(asset, base_url, apple_message(asset, sender=sender, interactive=answer))
    attachments = []
    if media:
        response = httpx.post(
            f"{media_base_url}/apple/_attachment", json={"media": f"sample-{media}"}, timeout=30
        )
        if response.status_code != 200:
            raise CommandError(f"the fake provider has no sample {media}: {response.text[:200]}")
        attachments.append(response.json())
    return sign_apple(
        asset, base_url, apple_message(asset, sender=sender, text=text, attachments=attachments)
    )
