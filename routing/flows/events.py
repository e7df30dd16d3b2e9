"""Where flows hear about the rest of the product: inbound messages from channels_app, task
events from routing. Handlers only hand ids to a task, after the announcing commit."""

import logging

from django.db import transaction

from config import pipeline
from routing.flows.models import FlowKind

logger = logging.getLogger(__name__)

# routing's event names -> the event flow they run.
ROUTING_EVENT_FLOWS: dict[str, str] = {
    "accepted": FlowKind.TASK_ROUTED,
    "modified": FlowKind.TASK_MODIFIED,
    "closed": FlowKind.TASK_CLOSED,
}


def on_message_received(
    *, message_id: int, conversation_id: int, conversation_created: bool = False, **_
) -> None:
    """Runs inside the transaction that stores the message. In the inbound pipeline the flow runs
    right here (in a savepoint), so message and flow run commit together and a lost worker leaves
    neither; elsewhere, or when the run fails, it goes to a task after commit."""
    from routing.flows.services import flow_inbound_message_handle
    from routing.flows.tasks import handle_inbound_message

    if pipeline.active():
        try:
            with transaction.atomic():
                # In line we are in the transaction that stored the message (and opened the
                # conversation, when conversation_created).
                flow_inbound_message_handle(
                    message_id=message_id, conversation_created=conversation_created, fresh=True
                )
            return
        except Exception:
            logger.exception("flow for message %s failed in line; handing it to a task", message_id)
    # robust: a failing flow start is logged (and retried by its worker), never undoes the message.
    transaction.on_commit(
        lambda: handle_inbound_message.delay(message_id, conversation_created), robust=True
    )


def _conversation_of(payload: dict) -> int | None:
    if payload.get("conversation_id"):
        return payload["conversation_id"]
    task_id = payload.get("task_id")
    if task_id is None:
        return None
    from routing.models import Task

    return Task.objects.filter(pk=task_id).values_list("conversation_id", flat=True).first()


def _routing_handler(kind: str):
    def handler(**payload) -> None:
        from routing.flows.services import flow_event_enqueue

        conversation_id = _conversation_of(payload)
        if conversation_id is not None:
            data = {
                key: value
                for key, value in payload.items()
                if key != "data" and isinstance(value, str | int | float | bool)
            }
            flow_event_enqueue(conversation_id=conversation_id, kind=kind, data=data)

    handler.__name__ = f"run_{kind}_flow"
    return handler


_ROUTING_HANDLERS = {event: _routing_handler(kind) for event, kind in ROUTING_EVENT_FLOWS.items()}


def connect() -> None:
    from channels_app import events as channel_events

    channel_events.subscribe(
        channel_events.MESSAGE_RECEIVED, on_message_received, in_transaction=True
    )
    try:
        from routing import events as routing_events
    except ImportError:
        return
    kinds = set(getattr(routing_events, "KINDS", ()))
    for event, handler in _ROUTING_HANDLERS.items():
        if event in kinds:
            routing_events.subscribe(event, handler)
