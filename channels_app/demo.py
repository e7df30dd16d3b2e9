"""The demo tenant's channels: one WhatsApp, one Messenger, one SMS and one email asset, wired to
the sandbox (the email asset's mail service is the sandbox: signed raw mail in, raw MIME out)."""

from django.conf import settings
from django.db import transaction

from channels_app.models import ChannelAsset, ChannelKind, ChatWidget, EmailIntake, SmsNumberType
from tenants.models import Tenant

DEMO_ASSETS = {
    ChannelKind.WHATSAPP: {
        "name": "Demo WhatsApp",
        "wa_phone_number_id": "100000000000001",
        "wa_business_account_id": "200000000000001",
        "app_secret": "demo-whatsapp-app-secret",
        "verify_token": "demo-verify-token",
        "access_token": "demo-whatsapp-access-token",
    },
    ChannelKind.MESSENGER: {
        "name": "Demo Facebook page",
        "fb_page_id": "300000000000001",
        "app_secret": "demo-messenger-app-secret",
        "verify_token": "demo-verify-token",
        "access_token": "demo-page-access-token",
    },
    ChannelKind.SMS: {
        "name": "Demo SMS",
        "sms_number": "+15005550006",
        "sms_number_type": SmsNumberType.LONG,
        "sms_account_sid": "AC00000000000000000000000000demo",
        "auth_token": "demo-twilio-auth-token",
    },
    ChannelKind.EMAIL: {
        "name": "Demo Email",
        "email_address": "support@demo.example",
        "email_intake": EmailIntake.WEBHOOK,
        "email_signing_key": "demo-mail-signing-key",
        "access_token": "demo-mail-api-key",
    },
    ChannelKind.APPLE: {
        "name": "Demo Apple Messages",
        "apple_business_id": "00000000-0000-4000-8000-demo0000apple",
        "apple_msp_id": "demo-msp",
        "apple_msp_secret": "ZGVtby1hcHBsZS1tc3Atc2VjcmV0",
    },
}


def sandbox_base_url() -> str:
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/sandbox/provider"


@transaction.atomic
def seed(*, tenant: Tenant, people) -> list[str]:
    base = sandbox_base_url()
    for kind, fields in DEMO_ASSETS.items():
        asset = ChannelAsset.objects.filter(tenant=tenant, kind=kind, name=fields["name"]).first()
        if asset is None:
            unique = {
                k: v
                for k, v in fields.items()
                if k
                in (
                    "wa_phone_number_id",
                    "fb_page_id",
                    "sms_number",
                    "email_address",
                    "apple_business_id",
                )
            }
            if ChannelAsset.objects.filter(**unique).exists():
                continue  # the number belongs to another tenant here; leave it alone
            asset = ChannelAsset(tenant=tenant, kind=kind, **fields)
        asset.api_base_url = f"{base}/{kind}"
        asset.save()
    chat, _ = ChannelAsset.objects.get_or_create(
        tenant=tenant, kind=ChannelKind.CHAT, name="Demo website chat"
    )
    ChatWidget.objects.get_or_create(asset=chat)
    lines = [
        f"channels:   WhatsApp, Messenger, SMS, email and Apple Messages assets wired to the sandbox provider at {base}/",
        '  play a customer:  .venv/bin/python manage.py sandbox_customer whatsapp "Hallo" --from +4915112345678',
        '                    .venv/bin/python manage.py sandbox_customer sms "Hi" ; ... messenger "Hello" --media image',
        '                    .venv/bin/python manage.py sandbox_customer email "My order" --html --media document',
        '                    .venv/bin/python manage.py sandbox_customer apple "Hallo" ; ... apple --choose order',
        f"  live chat:        {settings.PUBLIC_BASE_URL.rstrip('/')}/livechat/demo/ (chat as a visitor there)",
    ]
    if settings.SANDBOX_PROVIDER:
        lines.append(f"  what was sent:    {base}/ (staff only: sign in as the demo admin)")
    else:
        lines.append("  (the sandbox provider is off here: set SANDBOX_PROVIDER=1 to mount it)")
    return lines
