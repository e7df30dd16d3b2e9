"""While the broker (Redis) is away, what a request stores is kept and answered as stored; the
sweeps queue the follow-ups once it is back. The broker here is a loopback port nobody listens on."""

import socket
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from channels_app import services
from channels_app.models import DeliveryStatus, Direction, InboundEvent, Message
from channels_app.services import inbound_events_requeue_stale, messages_requeue_stale
from config.celery import app as celery_app
from tests.channels_app.conftest import load_fixture, post_meta
from tests.channels_app.test_outbound import whatsapp_conversation  # noqa: F401  (fixture)
from tests.factories import MessageFactory


@pytest.fixture
def broker_down():
    """Celery publishes to a port with no server behind it, as during a Redis restart."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conf = celery_app.conf
    previous = (conf.task_always_eager, conf.broker_url, conf.broker_write_url, celery_app._pool)
    conf.task_always_eager = False
    conf.broker_url = conf.broker_write_url = f"redis://127.0.0.1:{port}/0"
    celery_app._pool = None
    yield
    conf.task_always_eager, conf.broker_url, conf.broker_write_url, celery_app._pool = previous


def test_a_webhook_stored_while_the_broker_is_away_is_answered_200_and_processed_later(
    client, whatsapp_asset, broker_down, django_capture_on_commit_callbacks
):
    payload = load_fixture("whatsapp", "text", PHONE_NUMBER_ID=whatsapp_asset.wa_phone_number_id)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_meta(client, whatsapp_asset, payload)

    # Stored once: a 5xx would make the provider deliver it again for nothing.
    assert response.status_code == 200
    event = InboundEvent.objects.get()
    assert event.status == InboundEvent.Status.PENDING and not Message.objects.exists()


def test_the_stale_event_sweep_processes_what_the_broker_outage_left(
    client, whatsapp_asset, broker_down, django_capture_on_commit_callbacks
):
    payload = load_fixture("whatsapp", "text", PHONE_NUMBER_ID=whatsapp_asset.wa_phone_number_id)
    with django_capture_on_commit_callbacks(execute=True):
        assert post_meta(client, whatsapp_asset, payload).status_code == 200
    celery_app.conf.task_always_eager = True  # the broker is back (a worker runs what it gets)

    with time_machine.travel(timezone.now() + timedelta(minutes=3)):
        with django_capture_on_commit_callbacks(execute=True):
            assert inbound_events_requeue_stale() == (1, 0)

    assert InboundEvent.objects.get().status == InboundEvent.Status.PROCESSED
    assert Message.objects.filter(direction=Direction.INBOUND).count() == 1


def test_an_agent_reply_stored_while_the_broker_is_away_is_sent_once_by_the_sweep(
    whatsapp_conversation,  # noqa: F811
    agent,
    fake_provider,
    broker_down,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        message = services.message_send(
            conversation=whatsapp_conversation,
            text="Gern.",
            author_kind="agent",
            author_agent=agent,
        )
    message.refresh_from_db()
    assert message.status == DeliveryStatus.PENDING and message.send_attempts == 0
    celery_app.conf.task_always_eager = True

    assert messages_requeue_stale() == 0  # too early: its task may still be on its way
    with time_machine.travel(timezone.now() + timedelta(minutes=1)):
        assert messages_requeue_stale() == 1
        assert messages_requeue_stale() == 0  # sent: nothing left

    message.refresh_from_db()
    assert message.status == DeliveryStatus.SENT
    assert [r["payload"]["text"]["body"] for r in fake_provider.sent_to("whatsapp")] == ["Gern."]


def test_the_outbound_sweep_takes_a_lapsed_claim_and_leaves_a_message_between_retries(
    whatsapp_conversation,  # noqa: F811
    fake_provider,
):
    old = timezone.now() - timedelta(minutes=5)
    lapsed = MessageFactory(
        conversation=whatsapp_conversation,
        direction=Direction.OUTBOUND,
        author_kind="agent",
        text="lapsed",
        status=DeliveryStatus.PENDING,
        created_at=old,
        send_attempts=1,
        send_claimed_until=timezone.now() - timedelta(seconds=1),  # its worker died mid-send
    )
    waiting = MessageFactory(
        conversation=whatsapp_conversation,
        direction=Direction.OUTBOUND,
        author_kind="agent",
        text="between retries",
        status=DeliveryStatus.PENDING,
        created_at=old,
        send_attempts=1,
        send_claimed_until=None,  # a transient failure; its retry is scheduled
    )

    assert messages_requeue_stale() == 1

    lapsed.refresh_from_db()
    waiting.refresh_from_db()
    assert lapsed.status == DeliveryStatus.SENT
    assert waiting.status == DeliveryStatus.PENDING
    assert [r["payload"]["text"]["body"] for r in fake_provider.sent_to("whatsapp")] == ["lapsed"]
