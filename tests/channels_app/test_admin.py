import pytest

from channels_app.models import ChannelAsset, InboundEvent
from tests.channels_app.conftest import load_fixture, post_meta
from tests.factories import ChannelAssetFactory, ConversationFactory, MessageFactory


@pytest.fixture
def console(client, owner):
    client.force_login(owner)
    return client


def test_the_asset_page_shows_secrets_masked_only(console, tenant):
    asset = ChannelAssetFactory(
        tenant=tenant,
        wa_phone_number_id="1",
        wa_business_account_id="2",
        access_token="EAAG-secret-token-4321",
    )

    response = console.get(f"/admin/channels_app/channelasset/{asset.pk}/change/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "••••••••4321" in page
    assert "EAAG-secret-token" not in page


def test_saving_an_asset_with_blank_secrets_keeps_them(console, tenant):
    asset = ChannelAssetFactory(
        tenant=tenant, name="WA", wa_phone_number_id="1", wa_business_account_id="2"
    )

    response = console.post(
        f"/admin/channels_app/channelasset/{asset.pk}/change/",
        {
            "kind": "whatsapp",
            "name": "WA renamed",
            "wa_phone_number_id": "1",
            "wa_business_account_id": "2",
            "app_secret": "",
            "verify_token": "",
            "access_token": "",
            "auth_token": "",
            "api_base_url": "",
            "fb_page_id": "",
            "sms_number": "",
            "sms_number_type": "",
            "sms_account_sid": "",
        },
    )

    assert response.status_code == 302
    asset.refresh_from_db()
    assert asset.name == "WA renamed"
    assert asset.app_secret == "test-app-secret-0123456789"


def test_an_asset_created_in_the_console_belongs_to_the_current_tenant(console, tenant):
    response = console.post(
        "/admin/channels_app/channelasset/add/",
        {
            "kind": "sms",
            "name": "SMS",
            "sms_number": "+4915112345678",
            "sms_number_type": "long",
            "sms_account_sid": "AC1",
            "auth_token": "tok",
            "app_secret": "",
            "verify_token": "",
            "access_token": "",
            "api_base_url": "",
            "wa_phone_number_id": "",
            "wa_business_account_id": "",
            "fb_page_id": "",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert ChannelAsset.objects.get().tenant == tenant


def test_dead_letters_show_their_raw_body_and_replay_from_the_console(
    console, client, whatsapp_asset, django_capture_on_commit_callbacks
):
    post_meta(client, whatsapp_asset, load_fixture("whatsapp", "malformed_missing_from"))
    event = InboundEvent.objects.get()

    listing = console.get("/admin/channels_app/inboundevent/?status__exact=dead")
    assert "missing from" in listing.content.decode()
    detail = console.get(f"/admin/channels_app/inboundevent/{event.pk}/change/")
    assert "wamid.BROKEN0001" in detail.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = console.post(
            "/admin/channels_app/inboundevent/",
            {"action": "replay", "_selected_action": [event.pk]},
        )

    assert response.status_code == 302
    event.refresh_from_db()
    assert event.attempts == 1


def test_a_conversation_shows_its_messages_read_only(console, whatsapp_asset):
    conversation = ConversationFactory(asset=whatsapp_asset)
    MessageFactory(conversation=conversation, text="Wo ist mein Paket?")

    response = console.get(f"/admin/channels_app/conversation/{conversation.pk}/change/")

    assert response.status_code == 200
    assert "Wo ist mein Paket?" in response.content.decode()


def test_the_outsider_cannot_open_another_tenants_asset_in_the_console(client, outsider, tenant):
    asset = ChannelAssetFactory(tenant=tenant, wa_phone_number_id="1", wa_business_account_id="2")
    client.force_login(outsider)

    response = client.get(f"/admin/channels_app/channelasset/{asset.pk}/change/")

    assert response.status_code in (302, 404)
    assert "test-app-secret" not in response.content.decode()
