import phonenumbers
from django.core.exceptions import ValidationError
from django.db import transaction

from channels_app.models import ChannelAsset, ChannelKind
from tenants.models import Tenant

SECRET_FIELDS = ("app_secret", "verify_token", "access_token", "auth_token")
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
}


def channel_asset_validate(asset: ChannelAsset) -> None:
    """Which provider ids and secrets a kind needs, and an SMS number in E.164."""
    errors: dict[str, str] = {}
    for name in REQUIRED.get(asset.kind, ()):
        if not getattr(asset, name):
            errors[name] = f"required for a {asset.get_kind_display()} asset"
    if asset.sms_number:
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
            errors["sms_number"] = "must be a phone number in E.164 form, e.g. +4915112345678"
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def channel_asset_create(*, tenant: Tenant, **fields) -> ChannelAsset:
    asset = ChannelAsset(tenant=tenant, **fields)
    channel_asset_validate(asset)
    asset.full_clean()
    asset.save()
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
