"""An inbound event whose processing task was lost is processed by the sweep, or given up on."""

from datetime import timedelta

import time_machine
from django.utils import timezone

from channels_app.models import InboundEvent, Message
from channels_app.services import inbound_events_requeue_stale
from tests.channels_app.conftest import load_fixture, post_meta


def test_an_event_whose_task_was_lost_is_processed_by_the_sweep(
    client, whatsapp_asset, django_capture_on_commit_callbacks
):
    payload = load_fixture("whatsapp", "text", PHONE_NUMBER_ID=whatsapp_asset.wa_phone_number_id)
    with django_capture_on_commit_callbacks(execute=False):  # the broker lost the task
        assert post_meta(client, whatsapp_asset, payload).status_code == 200
    event = InboundEvent.objects.get()
    assert event.status == InboundEvent.Status.PENDING and not Message.objects.exists()

    assert inbound_events_requeue_stale() == (0, 0)  # too early: its task may still be on its way
    with time_machine.travel(timezone.now() + timedelta(minutes=3)):
        with django_capture_on_commit_callbacks(execute=True):
            assert inbound_events_requeue_stale() == (1, 0)

    event.refresh_from_db()
    assert event.status == InboundEvent.Status.PROCESSED
    assert Message.objects.count() == 1


def test_an_event_that_fails_every_attempt_becomes_a_dead_letter(whatsapp_asset):
    event = InboundEvent.objects.create(
        tenant=whatsapp_asset.tenant,
        asset=whatsapp_asset,
        provider_event_id="wamid.stuck",
        body="{}",
        attempts=5,
        received_at=timezone.now() - timedelta(minutes=10),
    )

    assert inbound_events_requeue_stale() == (0, 1)

    event.refresh_from_db()
    assert event.status == InboundEvent.Status.DEAD
    assert "failed 5 times" in event.error
    assert event.body == "{}"  # kept for the replay
