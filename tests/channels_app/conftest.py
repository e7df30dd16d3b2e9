"""Channel fixtures: a real fake-provider HTTP server on a loopback port, one asset per provider
pointing at it, and helpers that post webhooks signed exactly as the providers sign them."""

import json
from pathlib import Path
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from channels_app.models import ChannelKind, SmsNumberType
from channels_app.providers.meta import sign
from channels_app.sandbox.fake_provider import FakeProvider, start_in_thread
from tests.channels_app.email_support import (  # noqa: F401 - the email tests' fixtures
    _smtp_server,
    email_asset,
    mailbox,
    smtp_server,
    webhook_asset,
)
from tests.factories import ChannelAssetFactory

PROVIDERS_DIR = Path(__file__).resolve().parents[2] / "channels_app" / "providers"
WA_PHONE_NUMBER_ID = "106540352242922"
WA_BUSINESS_ACCOUNT_ID = "102290129340398"
FB_PAGE_ID = "109876543210987"
SMS_NUMBER = "+15005550006"
TWILIO_ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
# Media ids the WhatsApp fixtures refer to, served by the fake provider.
FIXTURE_MEDIA = {
    "1479537139650973": "sample-image",
    "1479537139650974": "sample-document",
    "1479537139650975": "sample-audio",
    "1479537139650976": "sample-voice",
    "1479537139650977": "sample-video",
    "1479537139650978": "sample-sticker",
}


@pytest.fixture(scope="session")
def _fake_provider_server():
    server, provider, base_url = start_in_thread(FakeProvider())
    yield provider, base_url
    server.shutdown()
    server.server_close()


@pytest.fixture
def fake_provider(_fake_provider_server, settings) -> FakeProvider:
    """The fake provider API; its loopback host is allowed like an operator allows a host."""
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    provider, base_url = _fake_provider_server
    provider.reset()
    for media_id, sample in FIXTURE_MEDIA.items():
        provider.media[media_id] = provider.media[sample]
    provider.base_url = base_url
    return provider


def load_fixture(kind: str, name: str, **substitutions: str):
    text = (PROVIDERS_DIR / kind / "tests" / "fixtures" / f"{name}.json").read_text()
    for key, value in substitutions.items():
        text = text.replace("{{" + key + "}}", value)
    return json.loads(text)


@pytest.fixture
def whatsapp_asset(tenant, fake_provider):
    return ChannelAssetFactory(
        tenant=tenant,
        kind=ChannelKind.WHATSAPP,
        name="WhatsApp Support",
        wa_phone_number_id=WA_PHONE_NUMBER_ID,
        wa_business_account_id=WA_BUSINESS_ACCOUNT_ID,
        api_base_url=f"{fake_provider.base_url}/whatsapp",
    )


@pytest.fixture
def messenger_asset(tenant, fake_provider):
    return ChannelAssetFactory(
        tenant=tenant,
        kind=ChannelKind.MESSENGER,
        name="Acme Facebook page",
        fb_page_id=FB_PAGE_ID,
        api_base_url=f"{fake_provider.base_url}/messenger",
    )


@pytest.fixture
def sms_asset(tenant, fake_provider):
    return ChannelAssetFactory(
        tenant=tenant,
        kind=ChannelKind.SMS,
        name="Acme SMS",
        sms_number=SMS_NUMBER,
        sms_number_type=SmsNumberType.LONG,
        sms_account_sid=TWILIO_ACCOUNT_SID,
        api_base_url=f"{fake_provider.base_url}/sms",
    )


def webhook_url(asset) -> str:
    return f"/webhooks/{asset.kind}/{asset.uuid}/"


def post_meta(client, asset, payload, *, secret: str | None = None, signature: str | None = None):
    """POSTs a WhatsApp or Messenger webhook signed with the asset's app secret (or the given one)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    else:
        headers["X-Hub-Signature-256"] = sign(secret or asset.app_secret, body)
    return client.post(
        webhook_url(asset), data=body, content_type="application/json", headers=headers
    )


def post_twilio(
    client, asset, form: dict, *, auth_token: str | None = None, signature: str | None = None
):
    url = f"http://testserver{webhook_url(asset)}"
    if signature is None:
        signature = RequestValidator(auth_token or asset.auth_token).compute_signature(url, form)
    return client.post(
        webhook_url(asset),
        data=urlencode(form),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature} if signature else {},
    )


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    """Posts a signed webhook and runs what the commit queued (processing, events), as a worker would."""

    def post(asset, payload):
        with django_capture_on_commit_callbacks(execute=True):
            if asset.kind == ChannelKind.SMS:
                response = post_twilio(client, asset, payload)
            else:
                response = post_meta(client, asset, payload)
        return response

    return post


@pytest.fixture
def announced():
    """Records what channels_app announces through channels_app.events."""
    from channels_app import events

    seen: list[tuple[str, dict]] = []
    handlers = {}
    for name in (
        events.CONVERSATION_OPENED,
        events.MESSAGE_RECEIVED,
        events.MESSAGE_STATUS_CHANGED,
        events.MESSAGE_SENT,
        events.CONVERSATION_CLOSED,
    ):
        handlers[name] = lambda name=name, **payload: seen.append((name, payload))
        events.subscribe(name, handlers[name])
    yield seen
    for name, handler in handlers.items():
        events._subscribers[name].remove(handler)


@pytest.fixture(autouse=True)
def _fresh_asset_lookups(settings):
    # Tests change assets between requests; a webhook must see the change at once.
    settings.CHANNEL_ASSET_CACHE_SECONDS = 0


@pytest.fixture
def private_clamd(settings):
    """A clamd of this test's own, started; settings point the project at it."""
    from tests.clamd import PrivateClamd

    clamd = PrivateClamd()
    clamd.start()
    settings.CLAMD_SOCKET = clamd.socket
    yield clamd
    clamd.close()
