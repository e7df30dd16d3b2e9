"""The embedded demo's email asset: the sandbox is its mail service. The sandbox customer writes
(plain, HTML with a table, an attachment), signed as a mail service signs; replies are recorded."""

import pytest
from django.core.management import call_command
from django.test import Client

from channels_app.models import AuthorKind, ChannelAsset, DeliveryStatus, Message
from channels_app.sandbox.customer import customer_webhook
from channels_app.services import message_send

pytestmark = pytest.mark.django_db


def post(signed):
    return Client().post(
        signed.url.removeprefix("http://testserver"),
        data=signed.body,
        content_type=signed.headers["Content-Type"],
    )


def test_the_demo_email_asset_takes_a_sandbox_mail_and_its_reply_reaches_the_sandbox(
    settings, fake_provider, django_capture_on_commit_callbacks
):
    settings.SANDBOX_PROVIDER = True
    call_command("demo_seed", stdout=open("/dev/null", "w"))
    asset = ChannelAsset.objects.get(tenant__slug="demo", kind="email")
    asset.api_base_url = f"{fake_provider.base_url}/email"
    asset.save(update_fields=["api_base_url"])
    signed = customer_webhook(
        asset,
        base_url="http://testserver",
        sender="customer@example.org",
        text="My order is incomplete",
        html=True,
        media="document",
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = post(signed)

    assert response.status_code == 200
    # The demo also seeds a closed history: the new mail is the newest inbound one.
    inbound = Message.objects.filter(asset=asset, direction="in").latest("pk")
    assert inbound.conversation.status == "open"
    assert "<table" in inbound.content["html"] and "<td>Shoes</td>" in inbound.content["html"]
    assert inbound.attachments.count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        sent = message_send(
            conversation=inbound.conversation,
            text="We are sending the second shoe.",
            author_kind=AuthorKind.AGENT,
        )
    sent.refresh_from_db()

    assert sent.status == DeliveryStatus.SENT, sent.failure_reason
    record = fake_provider.sent_to("email")[-1]["payload"]
    assert record["to"] == "customer@example.org"
    assert record["subject"] == "Re: My order is incomplete"
    assert record["in_reply_to"] == f"<{inbound.provider_message_id}>"
    assert "We are sending the second shoe." in record["text"]
    assert "<p>We are sending the second shoe.</p>" in record["html"]


def test_the_sandbox_refuses_a_mail_post_without_credentials(fake_provider):
    import httpx

    response = httpx.post(f"{fake_provider.base_url}/email/messages.mime", data={"message": "x"})

    assert response.status_code == 401
