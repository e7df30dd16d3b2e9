"""Celery tasks: take ids, call one service. Retries live here."""

from celery import shared_task

from channels_app import services
from channels_app.providers.base import TransientSendError
from channels_app.services import attachments as attachment_services
from config import pipeline
from config.broker import enqueue

SEND_BACKOFF_SECONDS = (2, 5, 15, 45, 120)


@shared_task(name="channels_app.tasks.process_inbound_event", acks_late=True)
def process_inbound_event(event_id: int) -> str:
    # One task per event: the flow run, routing and the greeting's delivery follow in this worker.
    with pipeline.inbound_pipeline():
        return services.inbound_event_process(event_id=event_id)


@shared_task(
    bind=True, name="channels_app.tasks.deliver_message", max_retries=len(SEND_BACKOFF_SECONDS)
)
def deliver_message(self, message_id: int) -> str:
    retries = self.request.retries
    outcome = services.message_deliver(
        message_id=message_id, final_attempt=retries >= self.max_retries
    )
    if outcome == "retry":
        # throw=False: the retry is scheduled and this run ends normally (also under eager execution).
        return self.retry(
            countdown=SEND_BACKOFF_SECONDS[min(retries, len(SEND_BACKOFF_SECONDS) - 1)], throw=False
        )
    return outcome


def deliver_message_now(message_id: int) -> str:
    """The first attempt in line (inside the inbound pipeline); retries go through the task."""
    outcome = services.message_deliver(message_id=message_id)
    if outcome == "retry":
        deliver_message.apply_async((message_id,), countdown=SEND_BACKOFF_SECONDS[0], retries=1)
    return outcome


def deliver_message_soon(message_id: int) -> None:
    """After commit: delivers in line at the end of the inbound pipeline, else through the task."""
    pipeline.defer(
        order=pipeline.DELIVER,
        key=("deliver_message", message_id),
        run=lambda: deliver_message_now(message_id),
        fallback=lambda: enqueue(deliver_message, message_id),
    )


@shared_task(bind=True, name="channels_app.tasks.send_read_receipt", max_retries=3)
def send_read_receipt(self, message_id: int):
    try:
        services.message_read_receipt_send(message_id=message_id)
    except TransientSendError as exc:
        if self.request.retries < self.max_retries:
            return self.retry(
                exc=exc, countdown=SEND_BACKOFF_SECONDS[self.request.retries], throw=False
            )


@shared_task(name="channels_app.tasks.close_inactive_conversations")
def close_inactive_conversations() -> int:
    return services.conversations_close_inactive()


@shared_task(name="channels_app.tasks.purge_expired_transcripts")
def purge_expired_transcripts() -> int:
    return services.transcripts_purge_expired()


@shared_task(name="channels_app.tasks.requeue_stale_inbound_events")
def requeue_stale_inbound_events() -> tuple[int, int]:
    return services.inbound_events_requeue_stale()


@shared_task(name="channels_app.tasks.requeue_stale_outbound_messages")
def requeue_stale_outbound_messages() -> int:
    return services.messages_requeue_stale()


# clamd down or restarting: the file waits; after these the sweep takes over.
SCAN_BACKOFF_SECONDS = (5, 15, 30, 60, 120, 300)


@shared_task(
    bind=True,
    name="channels_app.tasks.scan_attachment",
    acks_late=True,
    max_retries=len(SCAN_BACKOFF_SECONDS),
)
def scan_attachment(self, attachment_id: int) -> str:
    outcome = attachment_services.attachment_scan(attachment_id=attachment_id)
    if outcome == "retry" and self.request.retries < self.max_retries:
        return self.retry(countdown=SCAN_BACKOFF_SECONDS[self.request.retries], throw=False)
    return outcome


@shared_task(name="channels_app.tasks.requeue_pending_scans")
def requeue_pending_scans() -> int:
    return attachment_services.attachments_requeue_pending_scans()


@shared_task(name="channels_app.tasks.refresh_whatsapp_templates")
def refresh_whatsapp_templates() -> tuple[int, int]:
    from channels_app.services.whatsapp_templates import whatsapp_templates_refresh_stale

    return whatsapp_templates_refresh_stale()


@shared_task(name="channels_app.tasks.poll_mailboxes")
def poll_mailboxes() -> dict:
    from channels_app.services.email import email_mailboxes_poll

    return email_mailboxes_poll()


@shared_task(name="channels_app.tasks.send_typing_indicator")
def send_typing_indicator(conversation_id: int) -> None:
    from channels_app.services.typing import typing_indicator_send

    typing_indicator_send(conversation_id=conversation_id)
