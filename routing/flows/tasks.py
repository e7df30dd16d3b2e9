from celery import shared_task
from django.db import OperationalError

from routing.flows import services


# A run is one transaction: a retry after a database hiccup starts it cleanly again.
@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def handle_inbound_message(message_id: int, conversation_created: bool = False) -> int | None:
    run = services.flow_inbound_message_handle(
        message_id=message_id, conversation_created=conversation_created
    )
    return run.pk if run is not None else None


# A run is one transaction: a retry after a database hiccup starts it cleanly again.
@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def run_event_flow(conversation_id: int, kind: str, data: dict | None = None) -> int | None:
    run = services.flow_event_run(conversation_id=conversation_id, kind=kind, data=data or {})
    return run.pk if run is not None else None


@shared_task
def sweep_flow_timers() -> int:
    return services.flow_runs_time_out_due()
