import pytest
from django.db import connection
from django.test import Client

from channels_app.models import (
    Conversation,
    Customer,
    DeliveryStatus,
    Direction,
    InboundEvent,
    Message,
)
from tests.channels_app.conftest import load_fixture, post_twilio
from tests.factories import MessageFactory


def sms(name: str, fake_provider=None):
    return load_fixture("sms", name, MEDIA_BASE=fake_provider.base_url if fake_provider else "")


def test_an_inbound_sms_is_stored(deliver, sms_asset):
    response = deliver(sms_asset, sms("text"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml"
    message = Message.objects.get()
    assert message.text == "Hallo, wann kommt mein Paket?"
    assert message.provider_message_id == "SM1f0e8ae6ade43cb3c0ce4525424e404f"
    assert message.conversation.identity.address == "+4915112345678"


def test_an_mms_media_url_is_downloaded_and_typed_by_its_bytes(deliver, sms_asset, fake_provider):
    deliver(sms_asset, sms("mms", fake_provider))

    attachment = Message.objects.get().attachments.get()
    assert attachment.declared_content_type == "image/jpeg"
    assert attachment.detected_content_type == "image/png"


def test_status_callbacks_update_the_outbound_message(deliver, sms_asset):
    deliver(sms_asset, sms("text"))
    ours = MessageFactory(
        conversation=Conversation.objects.get(),
        direction=Direction.OUTBOUND,
        author_kind="agent",
        provider_message_id="SM_OUTBOUND0001",
        status=DeliveryStatus.SENT,
    )

    deliver(sms_asset, sms("status_queued"))
    deliver(sms_asset, sms("status_delivered"))

    ours.refresh_from_db()
    assert ours.status == DeliveryStatus.DELIVERED


def test_an_undelivered_callback_marks_failed_with_the_error(deliver, sms_asset):
    deliver(sms_asset, sms("text"))
    ours = MessageFactory(
        conversation=Conversation.objects.get(),
        direction=Direction.OUTBOUND,
        author_kind="agent",
        provider_message_id="SM_OUTBOUND0001",
        status=DeliveryStatus.SENT,
    )

    deliver(sms_asset, sms("status_undelivered"))

    ours.refresh_from_db()
    assert ours.status == DeliveryStatus.FAILED
    assert ours.failure_reason == "Twilio error 30003: Unreachable destination handset"


def test_a_missing_twilio_signature_is_refused(client, sms_asset):
    response = post_twilio(client, sms_asset, sms("text"), signature="")

    assert response.status_code == 403
    assert InboundEvent.objects.count() == 0


def test_a_signature_with_another_auth_token_is_refused(client, sms_asset):
    response = post_twilio(client, sms_asset, sms("text"), auth_token="0" * 32)

    assert response.status_code == 403
    assert InboundEvent.objects.count() == 0


def test_a_tampered_form_is_refused(client, sms_asset):
    from twilio.request_validator import RequestValidator

    form = sms("text")
    signature = RequestValidator(sms_asset.auth_token).compute_signature(
        f"http://testserver/webhooks/sms/{sms_asset.uuid}/", form
    )
    form["Body"] = "something else"

    assert post_twilio(client, sms_asset, form, signature=signature).status_code == 403


def test_a_bad_num_media_is_a_dead_letter_with_a_reason(client, sms_asset):
    response = post_twilio(client, sms_asset, sms("malformed_num_media"))

    assert response.status_code == 400
    assert response.json()["reason"] == "message SMbroken0001: NumMedia must be a number"
    assert InboundEvent.objects.get().status == InboundEvent.Status.DEAD


def test_the_same_phone_on_sms_and_whatsapp_is_one_customer(deliver, sms_asset, whatsapp_asset):
    deliver(sms_asset, sms("text"))
    deliver(whatsapp_asset, load_fixture("whatsapp", "text"))

    assert Customer.objects.count() == 1
    assert Conversation.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_three_concurrent_deliveries_of_one_sms_yield_one_message(sms_asset):
    import threading

    barrier = threading.Barrier(3)
    statuses = []

    def post():
        try:
            barrier.wait()
            statuses.append(post_twilio(Client(), sms_asset, sms("text")).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200, 200, 200]
    assert Message.objects.count() == 1
