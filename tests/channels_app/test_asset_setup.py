"""Setting up a channel asset: the full webhook URL to paste, SMS short codes, and kinds that
cannot be created until their channel exists."""

import pytest

from channels_app.models import ChannelAsset, ChannelKind
from channels_app.providers import provider_for
from tests.factories import ChannelAssetFactory
from tests.tenants.test_admin_login import sign_in

pytestmark = pytest.mark.django_db

BLANK = {
    "wa_phone_number_id": "",
    "wa_business_account_id": "",
    "fb_page_id": "",
    "sms_number": "",
    "sms_number_type": "",
    "sms_account_sid": "",
    "app_secret": "",
    "verify_token": "",
    "access_token": "",
    "auth_token": "",
    "api_base_url": "",
}


def sms(number: str, number_type: str, name: str = "SMS") -> dict:
    return {
        "kind": "sms",
        "name": name,
        "sms_number": number,
        "sms_number_type": number_type,
        "sms_account_sid": "AC1",
        "auth_token": "tok",
    }


def test_the_asset_page_shows_the_full_webhook_url_and_verify_token_to_copy(
    client, owner, tenant, settings
):
    settings.PUBLIC_BASE_URL = "https://cc.example.com"
    asset = ChannelAssetFactory(tenant=tenant, wa_phone_number_id="1", wa_business_account_id="2")
    sign_in(client, owner.email)

    page = client.get(f"/admin/channels_app/channelasset/{asset.pk}/change/").content.decode()
    listing = client.get("/admin/channels_app/channelasset/").content.decode()

    url = f"https://cc.example.com/webhooks/whatsapp/{asset.uuid}/"
    assert f'data-copy="{url}"' in page
    assert 'data-copy="test-verify-token"' in page
    assert "admin_console/copy.js" in page
    assert url in listing


def test_a_read_only_admin_sees_the_url_but_no_secret_in_clear(client, tenant):
    from tests.factories import member

    member(tenant=tenant, email="rita@acme.test", admin_role="read_only")
    asset = ChannelAssetFactory(tenant=tenant, wa_phone_number_id="1", wa_business_account_id="2")
    sign_in(client, "rita@acme.test")

    page = client.get(f"/admin/channels_app/channelasset/{asset.pk}/change/").content.decode()

    assert f"/webhooks/whatsapp/{asset.uuid}/" in page
    for secret in ("test-verify-token", "test-app-secret-0123456789", "EAAG0123456789"):
        assert secret not in page
    assert "app secret: " in page


def test_the_api_gives_the_webhook_url_from_the_public_base_url(owner, tenant, api_as, settings):
    settings.PUBLIC_BASE_URL = "https://cc.example.com"
    asset = ChannelAssetFactory(tenant=tenant, wa_phone_number_id="1", wa_business_account_id="2")

    body = api_as(owner).get(f"/api/v1/channel-assets/{asset.pk}/").json()

    assert body["webhook_url"] == f"https://cc.example.com/webhooks/whatsapp/{asset.uuid}/"
    assert "registered_with_routing" not in body


@pytest.mark.parametrize(
    "number,number_type",
    [("72345", "short"), ("+4915112345678", "long"), ("+18005550100", "toll_free")],
)
def test_long_short_and_toll_free_sms_numbers_can_be_registered(
    owner, tenant, api_as, number, number_type
):
    response = api_as(owner).post(
        "/api/v1/channel-assets/", {"tenant": tenant.pk, **sms(number, number_type)}, format="json"
    )

    assert response.status_code == 201, response.json()
    assert ChannelAsset.objects.get().sms_number == number


def test_a_short_code_is_digits_only_and_a_long_number_still_needs_e164(owner, tenant, api_as):
    client = api_as(owner)

    short = client.post(
        "/api/v1/channel-assets/", {"tenant": tenant.pk, **sms("+72345", "short")}, format="json"
    )
    long = client.post(
        "/api/v1/channel-assets/", {"tenant": tenant.pk, **sms("72345", "long")}, format="json"
    )

    assert short.status_code == 400
    assert "a short code is 3 to 8 digits" in short.json()["sms_number"][0]
    assert long.status_code == 400
    assert "E.164" in long.json()["sms_number"][0]
    assert not ChannelAsset.objects.exists()


def test_a_short_code_is_registered_in_the_console(client, owner):
    sign_in(client, owner.email)

    response = client.post(
        "/admin/channels_app/channelasset/add/", {**BLANK, **sms("72345", "short")}
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert ChannelAsset.objects.get().sms_number == "72345"


def test_every_channel_kind_has_a_provider_so_none_is_refused():
    # The asset service refuses a kind without a provider; today every kind has one.
    assert [kind for kind in ChannelKind.values if provider_for(kind) is None] == []


def test_an_outsider_gets_404_for_the_asset(outsider, tenant, api_as):
    asset = ChannelAssetFactory(tenant=tenant, wa_phone_number_id="1", wa_business_account_id="2")

    assert api_as(outsider).get(f"/api/v1/channel-assets/{asset.pk}/").status_code == 404
