import pytest
from django.core.management import call_command

from channels_app.models import ChannelAsset, Message
from channels_app.sandbox.fake_provider import SHARED
from tests.factories import ChannelAssetFactory


def test_the_mounted_fake_provider_answers_only_when_the_sandbox_is_on(client, settings, db):
    from tests.factories import UserFactory

    settings.SANDBOX_PROVIDER = False
    assert client.get("/sandbox/provider/sent").status_code == 404

    settings.SANDBOX_PROVIDER = True
    client.force_login(UserFactory(is_staff=True))
    SHARED.reset()
    response = client.post(
        "/sandbox/provider/whatsapp/123/messages",
        {"messaging_product": "whatsapp", "to": "49151", "type": "text", "text": {"body": "Hi"}},
        content_type="application/json",
        headers={"Authorization": "Bearer token"},
    )
    assert response.status_code == 200
    assert response.json()["messages"][0]["id"].startswith("wamid.")
    assert client.get("/sandbox/provider/sent").json()["sent"][0]["payload"]["text"] == {
        "body": "Hi"
    }
    assert b"What we sent" in client.get("/sandbox/provider/").content


def test_the_fake_provider_refuses_calls_without_credentials(fake_provider):
    import httpx

    response = httpx.post(f"{fake_provider.base_url}/whatsapp/123/messages", json={"to": "1"})

    assert response.status_code == 401
    assert fake_provider.sent == []


@pytest.mark.django_db(transaction=True)
def test_sandbox_customer_posts_a_signed_whatsapp_message_that_arrives(
    live_server, tenant, fake_provider
):
    asset = ChannelAssetFactory(
        tenant=tenant,
        wa_phone_number_id="100",
        wa_business_account_id="200",
        api_base_url=f"{fake_provider.base_url}/whatsapp",
    )

    call_command(
        "sandbox_customer",
        "whatsapp",
        "Hallo",
        "--from",
        "+4915112345678",
        "--asset",
        str(asset.uuid),
        "--base-url",
        live_server.url,
    )

    message = Message.objects.get()
    assert message.text == "Hallo"
    assert message.conversation.identity.address == "4915112345678"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["sms", "messenger"])
def test_sandbox_customer_sends_media_on_sms_and_messenger(
    live_server, tenant, fake_provider, kind
):
    fields = {
        "sms": {"sms_number": "+15005550006", "sms_number_type": "long", "sms_account_sid": "AC1"},
        "messenger": {"fb_page_id": "300"},
    }[kind]
    asset = ChannelAssetFactory(
        tenant=tenant, kind=kind, api_base_url=f"{fake_provider.base_url}/{kind}", **fields
    )

    call_command(
        "sandbox_customer",
        kind,
        "Schaden",
        "--media",
        "image",
        "--asset",
        str(asset.uuid),
        "--base-url",
        live_server.url,
    )

    attachment = Message.objects.get().attachments.get()
    assert attachment.detected_content_type == "image/png"


def test_the_demo_gets_one_asset_per_channel_wired_to_the_sandbox(tenant, settings):
    from channels_app import demo

    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    lines = demo.seed(tenant=tenant, people=None)
    demo.seed(tenant=tenant, people=None)

    assert ChannelAsset.objects.get(tenant=tenant, kind="chat").chat_widget  # the live-chat demo
    assets = ChannelAsset.objects.filter(tenant=tenant).exclude(kind="chat").order_by("kind")
    assert [a.kind for a in assets] == ["apple", "email", "messenger", "sms", "whatsapp"]
    assert {a.api_base_url for a in assets} == {
        f"http://127.0.0.1:8000/sandbox/provider/{k}"
        for k in ("apple", "email", "messenger", "sms", "whatsapp")
    }
    assert any("sandbox_customer whatsapp" in line for line in lines)


@pytest.mark.django_db(transaction=True)
def test_sandbox_customer_plays_an_apple_customer_with_a_file_an_answer_and_the_close(
    live_server, tenant, agent, fake_provider
):
    from channels_app.services import message_send

    asset = ChannelAssetFactory(
        tenant=tenant,
        kind="apple",
        apple_business_id="biz-1",
        apple_msp_id="msp-1",
        apple_msp_secret="c2FuZGJveA==",
        api_base_url=f"{fake_provider.base_url}/apple",
    )
    command = ["--asset", str(asset.uuid), "--base-url", live_server.url]
    call_command("sandbox_customer", "apple", "Hallo", "--media", "image", *command)
    conversation = Message.objects.get().conversation
    message_send(
        conversation=conversation,
        text="Wobei?",
        content={"type": "list_picker", "items": [{"id": "order", "title": "Bestellung"}]},
        author_kind="bot",
    )

    call_command("sandbox_customer", "apple", "--choose", "order", *command)

    first, _sent, answer = Message.objects.order_by("id")
    assert first.text == "Hallo"
    assert first.attachments.get().detected_content_type == "image/png"
    assert answer.content_type == "list_picker"
    assert answer.content["selected_id"] == "order"
    assert answer.text == "Bestellung"

    call_command("sandbox_customer", "apple", "--event", "close", *command)

    conversation.refresh_from_db()
    assert conversation.status == conversation.Status.CLOSED
    assert conversation.close_reason == "customer_deleted"
