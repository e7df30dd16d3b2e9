import pytest

from channels_app.models import ChannelAsset, InboundEvent
from tests.channels_app.conftest import load_fixture, post_meta
from tests.factories import ChannelAssetFactory, ConversationFactory, MessageFactory

ASSETS = "/api/v1/channel-assets/"


def test_owner_creates_a_whatsapp_asset_and_never_sees_its_secrets_back(api_as, owner, tenant):
    response = api_as(owner).post(
        ASSETS,
        {
            "kind": "whatsapp",
            "name": "WhatsApp Sales",
            "wa_phone_number_id": "111",
            "wa_business_account_id": "222",
            "app_secret": "s3cret-app-secret-value",
            "verify_token": "verify-me",
            "access_token": "EAAG-long-token-9876",
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert "app_secret" not in body and "access_token" not in body
    assert body["secrets"]["access_token"] == "••••••••9876"
    assert "s3cret" not in response.content.decode()
    assert body["webhook_url"].endswith(f"/webhooks/whatsapp/{body['uuid']}/")
    asset = ChannelAsset.objects.get()
    assert asset.tenant == tenant
    assert asset.app_secret == "s3cret-app-secret-value"


def test_secrets_are_stored_encrypted(owner, tenant):
    from django.db import connection

    ChannelAssetFactory(
        tenant=tenant, wa_phone_number_id="1", wa_business_account_id="2", app_secret="plain-secret"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT app_secret FROM channels_app_channelasset")
        stored = cursor.fetchone()[0]

    assert "plain-secret" not in stored


def test_a_blank_secret_on_update_keeps_the_stored_one(api_as, owner, tenant):
    asset = ChannelAssetFactory(tenant=tenant, wa_phone_number_id="1", wa_business_account_id="2")

    response = api_as(owner).patch(
        f"{ASSETS}{asset.pk}/", {"name": "Renamed", "app_secret": ""}, format="json"
    )

    assert response.status_code == 200
    asset.refresh_from_db()
    assert asset.name == "Renamed"
    assert asset.app_secret == "test-app-secret-0123456789"


def test_an_sms_asset_needs_an_e164_number(api_as, owner):
    response = api_as(owner).post(
        ASSETS,
        {
            "kind": "sms",
            "name": "SMS",
            "sms_number": "0151 1234",
            "sms_number_type": "long",
            "sms_account_sid": "AC1",
            "auth_token": "tok",
        },
        format="json",
    )

    assert response.status_code == 400
    assert "E.164" in response.json()["sms_number"][0]
    assert ChannelAsset.objects.count() == 0


def test_a_whatsapp_asset_without_its_ids_is_refused_with_reasons(api_as, owner):
    response = api_as(owner).post(ASSETS, {"kind": "whatsapp", "name": "WA"}, format="json")

    assert response.status_code == 400
    assert set(response.json()) >= {"wa_phone_number_id", "app_secret", "access_token"}


def test_an_agent_may_not_create_assets(api_as, agent):
    response = api_as(agent.user).post(ASSETS, {"kind": "whatsapp", "name": "WA"}, format="json")

    assert response.status_code in (403, 404)
    assert ChannelAsset.objects.count() == 0


def test_the_outsider_gets_404_for_another_tenants_asset(api_as, outsider, tenant):
    asset = ChannelAssetFactory(tenant=tenant, wa_phone_number_id="1", wa_business_account_id="2")

    client = api_as(outsider)
    assert client.get(f"{ASSETS}{asset.pk}/").status_code == 404
    assert client.patch(f"{ASSETS}{asset.pk}/", {"name": "mine"}, format="json").status_code == 404
    assert client.get(ASSETS).json()["results"] == []


def test_the_asset_list_takes_a_bounded_number_of_queries(
    api_as, owner, tenant, django_assert_max_num_queries
):
    for n in range(10):
        ChannelAssetFactory(tenant=tenant, wa_phone_number_id=f"p{n}", wa_business_account_id="b")
    client = api_as(owner)

    with django_assert_max_num_queries(8):
        response = client.get(ASSETS)

    assert response.json()["count"] == 10


def test_dead_letters_are_listed_and_replayed(
    api_as, owner, client, whatsapp_asset, django_capture_on_commit_callbacks
):
    post_meta(client, whatsapp_asset, load_fixture("whatsapp", "malformed_missing_from"))
    dead = InboundEvent.objects.get()
    api = api_as(owner)

    listed = api.get("/api/v1/dead-letters/").json()["results"]
    assert [e["id"] for e in listed] == [dead.pk]
    assert listed[0]["error"] == "message wamid.BROKEN0001: missing from"

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/dead-letters/{dead.pk}/replay/")

    assert response.status_code == 202
    dead.refresh_from_db()
    assert dead.status == InboundEvent.Status.DEAD  # still unreadable: it stays a dead letter
    assert dead.attempts == 1


def test_replaying_a_processed_event_is_a_conflict(api_as, owner, deliver, whatsapp_asset):
    deliver(whatsapp_asset, load_fixture("whatsapp", "text"))
    event = InboundEvent.objects.get()

    response = api_as(owner).post(
        f"/api/v1/dead-letters/{event.pk}/replay/", {"status": "processed"}
    )

    assert response.status_code == 409
    assert "processed" in response.json()["detail"]


def test_a_supervisor_may_not_replay_dead_letters(api_as, supervisor, client, whatsapp_asset):
    post_meta(client, whatsapp_asset, load_fixture("whatsapp", "malformed_missing_from"))
    event = InboundEvent.objects.get()

    assert api_as(supervisor).post(f"/api/v1/dead-letters/{event.pk}/replay/").status_code == 404


def test_the_outsider_cannot_see_or_replay_dead_letters(api_as, outsider, client, whatsapp_asset):
    post_meta(client, whatsapp_asset, load_fixture("whatsapp", "malformed_missing_from"))
    event = InboundEvent.objects.get()
    api = api_as(outsider)

    assert api.get(f"/api/v1/dead-letters/{event.pk}/").status_code == 404
    assert api.post(f"/api/v1/dead-letters/{event.pk}/replay/").status_code == 404
    assert api.get("/api/v1/dead-letters/").json()["results"] == []


@pytest.fixture
def transcript(whatsapp_asset):
    conversation = ConversationFactory(asset=whatsapp_asset)
    MessageFactory(conversation=conversation, text="Hallo")
    MessageFactory(
        conversation=conversation,
        direction="out",
        author_kind="agent",
        text="Hallo zurück",
        status="sent",
    )
    return conversation


def test_a_supervisor_reads_a_conversation_with_its_messages(api_as, supervisor, transcript):
    response = api_as(supervisor).get(f"/api/v1/conversations/{transcript.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert [m["text"] for m in body["messages"]] == ["Hallo", "Hallo zurück"]
    assert body["message_count"] == 2


def test_conversations_list_and_filter_in_bounded_queries(
    api_as, supervisor, whatsapp_asset, django_assert_max_num_queries
):
    for _ in range(8):
        MessageFactory(conversation=ConversationFactory(asset=whatsapp_asset))
    ConversationFactory(asset=whatsapp_asset, status="closed")
    client = api_as(supervisor)

    with django_assert_max_num_queries(8):
        response = client.get("/api/v1/conversations/?status=open")

    assert response.json()["count"] == 8


def test_conversations_are_read_only(api_as, owner, transcript):
    assert api_as(owner).delete(f"/api/v1/conversations/{transcript.pk}/").status_code == 405


def test_the_outsider_gets_404_for_another_tenants_conversation_and_customer(
    api_as, outsider, transcript
):
    api = api_as(outsider)

    assert api.get(f"/api/v1/conversations/{transcript.pk}/").status_code == 404
    assert api.get(f"/api/v1/customers/{transcript.customer_id}/").status_code == 404
    assert api.get("/api/v1/conversations/").json()["results"] == []


def test_customers_list_shows_their_identities(
    api_as, supervisor, transcript, django_assert_max_num_queries
):
    client = api_as(supervisor)

    with django_assert_max_num_queries(8):
        response = client.get("/api/v1/customers/")

    [customer] = response.json()["results"]
    assert customer["identities"] == [{"kind": "whatsapp", "address": transcript.identity.address}]
