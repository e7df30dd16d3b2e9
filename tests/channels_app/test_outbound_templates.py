"""WhatsApp message templates: fetched from the business account, kept, and sent with their
parameters: the way to reach a customer whose 24-hour window has closed."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from channels_app.models import DeliveryStatus, WhatsAppTemplate
from channels_app.providers.base import PermanentSendError
from channels_app.selectors import whatsapp_templates_approved
from channels_app.services import SendRefused
from channels_app.services.whatsapp_templates import (
    whatsapp_template_send,
    whatsapp_templates_refresh,
    whatsapp_templates_stale,
)
from tests.factories import ChannelAssetFactory, ConversationFactory


@pytest.fixture
def closed_window(whatsapp_asset):
    return ConversationFactory(
        asset=whatsapp_asset,
        last_inbound_at=timezone.now() - timedelta(days=3),
        identity__address="4915112345678",
    )


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    def run(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            message = whatsapp_template_send(author_kind="agent", **kwargs)
        message.refresh_from_db()
        return message

    return run


def test_a_refresh_stores_every_template_of_the_business_account(whatsapp_asset, fake_provider):

    count = whatsapp_templates_refresh(asset=whatsapp_asset)

    assert count == len(fake_provider.templates)
    order = WhatsAppTemplate.objects.get(
        asset=whatsapp_asset, name="order_update", language="en_US"
    )
    assert order.status == "APPROVED"
    assert order.category == "UTILITY"
    assert order.parameter_count == 3
    assert order.body_text.startswith("Hi {{1}}, your order {{2}}")
    approved = {(t.name, t.language) for t in whatsapp_templates_approved(asset=whatsapp_asset)}
    assert ("spring_sale", "en_US") not in approved
    assert ("order_update", "de_DE") in approved


def test_a_refresh_follows_the_pages_and_drops_what_the_account_no_longer_has(
    whatsapp_asset, fake_provider
):
    fake_provider.templates = [
        {**fake_provider.templates[0], "name": f"notice_{n:03d}", "id": str(n)} for n in range(130)
    ]
    WhatsAppTemplate.objects.create(
        tenant=whatsapp_asset.tenant,
        asset=whatsapp_asset,
        name="gone",
        language="en_US",
        status="APPROVED",
    )

    assert whatsapp_templates_refresh(asset=whatsapp_asset) == 130

    assert WhatsAppTemplate.objects.filter(asset=whatsapp_asset).count() == 130
    assert not WhatsAppTemplate.objects.filter(name="gone").exists()


def test_the_stored_templates_go_stale_after_their_time_to_live(whatsapp_asset, fake_provider):
    assert whatsapp_templates_stale(asset=whatsapp_asset) is True
    whatsapp_templates_refresh(asset=whatsapp_asset)
    assert whatsapp_templates_stale(asset=whatsapp_asset) is False

    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        assert whatsapp_templates_stale(asset=whatsapp_asset) is True


def test_the_templates_of_one_asset_are_not_another_tenants(
    whatsapp_asset, fake_provider, other_tenant
):
    elsewhere = ChannelAssetFactory(
        tenant=other_tenant,
        wa_phone_number_id="999",
        wa_business_account_id="998",
        api_base_url=f"{fake_provider.base_url}/whatsapp",
    )
    whatsapp_templates_refresh(asset=whatsapp_asset)

    assert whatsapp_templates_approved(asset=elsewhere) == []


def test_a_provider_refusal_of_the_listing_is_a_send_error_with_its_reason(
    whatsapp_asset, fake_provider
):
    fake_provider.fail_next(status=400, message="(#100) Invalid WABA id")

    with pytest.raises(PermanentSendError) as error:
        whatsapp_templates_refresh(asset=whatsapp_asset)

    assert "Invalid WABA id" in error.value.reason


def test_a_template_goes_out_after_the_window_closed_with_its_parameters(
    send, closed_window, fake_provider
):
    message = send(
        conversation=closed_window,
        name="order_update",
        language="de_DE",
        parameters=["Dana", "A-1042", "Freitag"],
    )

    assert message.status == DeliveryStatus.SENT
    assert message.content_type == "template"
    # The transcript shows what the customer read.
    assert (
        message.text == "Hallo Dana, Ihre Bestellung A-1042 ist unterwegs und kommt am Freitag an."
    )
    [record] = fake_provider.sent_to("whatsapp")
    assert record["path"] == f"/whatsapp/{closed_window.asset.wa_phone_number_id}/messages"
    assert record["payload"]["template"] == {
        "name": "order_update",
        "language": {"code": "de_DE"},
        "components": [
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": "Dana"},
                    {"type": "text", "text": "A-1042"},
                    {"type": "text", "text": "Freitag"},
                ],
            }
        ],
    }


def test_a_template_without_parameters_sends_no_components(send, closed_window, fake_provider):
    send(conversation=closed_window, name="hello_world", language="en_US", parameters=[])

    assert "components" not in fake_provider.sent_to("whatsapp")[0]["payload"]["template"]


@pytest.mark.parametrize(
    ("name", "language", "parameters", "reason"),
    [
        ("order_update", "en_US", ["Dana"], "needs 3 parameter(s), got 1"),
        (
            "order_update",
            "en_US",
            ["Dana", " ", "Friday"],
            "parameter {{2}} of order_update is empty",
        ),
        ("order_update", "en_US", ["Dana", "a\nb", "Friday"], "must be one line"),
        ("spring_sale", "en_US", ["May"], "is not an approved template"),
        ("order_update", "fr_FR", ["a", "b", "c"], "is not an approved template"),
        ("order_update", "en_US", "Dana", "a list of texts"),
    ],
)
def test_a_template_send_the_provider_would_refuse_is_refused_with_a_reason(
    send, closed_window, fake_provider, name, language, parameters, reason
):
    with pytest.raises(SendRefused) as refused:
        send(conversation=closed_window, name=name, language=language, parameters=parameters)

    assert reason in refused.value.messages[0]
    assert fake_provider.sent_to("whatsapp") == []


def test_templates_are_refused_on_other_channels(send, messenger_asset):
    with pytest.raises(SendRefused, match="WhatsApp feature"):
        send(
            conversation=ConversationFactory(asset=messenger_asset),
            name="hello_world",
            language="en_US",
            parameters=[],
        )


def test_the_periodic_refresh_fetches_stale_assets_and_skips_fresh_ones(
    whatsapp_asset, fake_provider, tenant
):
    from channels_app.services.whatsapp_templates import whatsapp_templates_refresh_stale
    from channels_app.tasks import refresh_whatsapp_templates

    broken = ChannelAssetFactory(
        tenant=tenant,
        name="Broken WhatsApp",
        wa_phone_number_id="555",
        wa_business_account_id="556",
        api_base_url=f"{fake_provider.base_url}/nowhere",
    )

    assert refresh_whatsapp_templates.delay().get() == (1, 1)
    assert WhatsAppTemplate.objects.filter(asset=whatsapp_asset).exists()
    assert not WhatsAppTemplate.objects.filter(asset=broken).exists()
    assert whatsapp_templates_refresh_stale() == (0, 1)
