"""Signed webhooks that no parser should choke on: deeply nested JSON and coordinates that are
not numbers are dead letters with a reason, not 500s; a failed insert is not taken for a
duplicate delivery."""

import json

import pytest
from django.db import IntegrityError

from channels_app.models import InboundEvent, Message
from channels_app.providers.base import InboundMessage
from channels_app.services import inbound_message_store
from tests.channels_app.conftest import load_fixture, post_meta


def wa(name: str):
    return load_fixture("whatsapp", name)


@pytest.mark.parametrize("depth", [100, 200_000])
def test_deeply_nested_json_is_a_400_and_a_dead_letter(client, whatsapp_asset, depth):
    body = '{"object": "whatsapp_business_account", "entry": ' + "[" * depth + "]" * depth + "}"

    response = post_meta(client, whatsapp_asset, body.encode())

    assert response.status_code == 400
    assert "nested deeper than" in response.json()["reason"]
    event = InboundEvent.objects.get()
    assert event.status == InboundEvent.Status.DEAD and "nested deeper" in event.error
    assert not Message.objects.exists()


def test_nan_in_a_location_is_a_400_and_a_dead_letter(client, whatsapp_asset):
    body = json.dumps(wa("location")).replace("52.520008", "NaN").encode()

    response = post_meta(client, whatsapp_asset, body)

    assert response.status_code == 400
    assert "NaN is not a JSON number" in response.json()["reason"]
    assert InboundEvent.objects.get().status == InboundEvent.Status.DEAD
    assert not Message.objects.exists()


@pytest.mark.parametrize("latitude", ["NaN", "Infinity", "123.4", {"deg": 52}, True])
def test_a_location_whose_coordinates_are_not_numbers_in_range_is_a_dead_letter(
    deliver, whatsapp_asset, latitude
):
    payload = wa("location")
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["location"]["latitude"] = latitude

    deliver(whatsapp_asset, payload)

    event = InboundEvent.objects.get()
    assert event.status == InboundEvent.Status.DEAD
    assert "latitude" in event.error and "not a coordinate" in event.error
    assert not Message.objects.exists()


def test_an_insert_error_is_not_taken_for_a_duplicate_delivery(whatsapp_asset):
    item = InboundMessage(provider_message_id="wamid.BROKEN", sender_address="4915112345678")
    item.text = None  # breaks NOT NULL: a real error, not another worker's copy of the message

    with pytest.raises(IntegrityError):
        inbound_message_store(asset=whatsapp_asset, item=item)


def test_the_outsider_does_not_see_the_dead_letter(client, api_as, outsider, whatsapp_asset):
    post_meta(client, whatsapp_asset, b'{"entry": ' + b"[" * 1000 + b"]" * 1000 + b"}")
    event = InboundEvent.objects.get()

    response = api_as(outsider).get(f"/api/v1/dead-letters/{event.pk}/")

    assert response.status_code == 404
