import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from channels_app.models import ChannelAsset, ChannelKind, ChatWidget, EmailIntake, SmsNumberType
from channels_app.providers import PROVIDER_PACKAGES
from tenants.models import Tenant

SECRET_FIELDS = (
    "app_secret",
    "verify_token",
    "access_token",
    "auth_token",
    "imap_password",
    "smtp_password",
    "email_signing_key",
    "apple_msp_secret",
)
REQUIRED: dict[str, tuple[str, ...]] = {
    ChannelKind.WHATSAPP: (
        "wa_phone_number_id",
        "wa_business_account_id",
        "app_secret",
        "verify_token",
        "access_token",
    ),
    ChannelKind.MESSENGER: ("fb_page_id", "app_secret", "verify_token", "access_token"),
    ChannelKind.SMS: ("sms_number", "sms_number_type", "sms_account_sid", "auth_token"),
    ChannelKind.EMAIL: ("email_address", "email_intake"),
    ChannelKind.APPLE: ("apple_business_id", "apple_msp_id", "apple_msp_secret"),
}
EMAIL_REQUIRED: dict[str, tuple[str, ...]] = {
    EmailIntake.IMAP: ("imap_host", "imap_user", "imap_password", "smtp_host"),
    EmailIntake.WEBHOOK: ("email_signing_key",),
}


def _kinds_with_provider() -> str:
    return ", ".join(str(ChannelKind(kind).label) for kind in PROVIDER_PACKAGES)


def _short_code_problem(number: str) -> str | None:
    if not number.isdigit() or not 3 <= len(number) <= 8:
        return "a short code is 3 to 8 digits, e.g. 72345"
    return None


def _email_problems(asset: ChannelAsset) -> dict[str, str]:
    """A mailbox needs its IMAP login and an SMTP server; a webhook needs its signing key and a
    way out (SMTP, or the mail service's HTTP API at the API base URL)."""
    errors: dict[str, str] = {}
    for name in EMAIL_REQUIRED.get(asset.email_intake, ()):
        if not getattr(asset, name):
            errors[name] = f"required for an email asset fed by {asset.get_email_intake_display()}"
    if asset.email_intake == EmailIntake.WEBHOOK and not asset.smtp_host and not asset.api_base_url:
        errors["smtp_host"] = (
            "an email asset fed by a webhook sends through SMTP (this host) or through the mail "
            "service's HTTP API (the API base URL): set one of them"
        )
    for name in ("imap_host", "smtp_host"):
        host = getattr(asset, name)
        if host and (not all(part for part in host.split(".")) or any(c in host for c in " /:@")):
            errors[name] = "a host name or an IP address, without scheme or port"
    return errors


def channel_asset_validate(asset: ChannelAsset) -> None:
    """Which provider ids and secrets a kind needs; an SMS number in E.164, or digits for a
    short code. A kind with no provider here is refused: its webhooks could never arrive."""
    if asset.kind in ChannelKind.values and asset.kind not in PROVIDER_PACKAGES:
        raise ValidationError(
            {
                "kind": f"{asset.get_kind_display()} assets cannot be created yet: this version has "
                f"no {asset.get_kind_display()} provider to receive or send its messages. "
                f"Channels available: {_kinds_with_provider()}."
            }
        )
    errors: dict[str, str] = {}
    for name in REQUIRED.get(asset.kind, ()):
        if not getattr(asset, name):
            errors[name] = f"required for a {asset.get_kind_display()} asset"
    if asset.kind == ChannelKind.EMAIL:
        errors.update(_email_problems(asset))
    if asset.sms_number and asset.sms_number_type == SmsNumberType.SHORT:
        problem = _short_code_problem(asset.sms_number)
        if problem:
            errors["sms_number"] = problem
    elif asset.sms_number:
        try:
            number = phonenumbers.parse(asset.sms_number, None)
        except phonenumbers.NumberParseException:
            number = None
        if (
            number is None
            or not phonenumbers.is_possible_number(number)
            or phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            != asset.sms_number
        ):
            errors["sms_number"] = (
                "must be a phone number in E.164 form, e.g. +4915112345678 "
                "(for a short code, choose the type short code)"
            )
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def channel_asset_create(*, tenant: Tenant, **fields) -> ChannelAsset:
    asset = ChannelAsset(tenant=tenant, **fields)
    channel_asset_validate(asset)
    asset.full_clean()
    asset.save()
    if asset.kind == ChannelKind.CHAT:
        ChatWidget.objects.create(asset=asset)
    return asset


@transaction.atomic
def channel_asset_update(*, asset: ChannelAsset, **fields) -> ChannelAsset:
    """A blank secret keeps the stored one: secrets are write-only and never shown back."""
    for name, value in fields.items():
        if name in SECRET_FIELDS and not value:
            continue
        setattr(asset, name, value)
    channel_asset_validate(asset)
    asset.full_clean()
    asset.save()
    return asset


def channel_asset_webhook_url(asset: ChannelAsset) -> str:
    """The absolute URL the provider posts to, as the admin pastes it into Meta or Twilio."""
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/webhooks/{asset.kind}/{asset.uuid}/"
