"""The narrow interface through which channels_app announces what happened to conversations.

routing subscribes here (from its AppConfig.ready); channels_app never imports routing.
Handlers run after the announcing transaction commits, each in its own transaction, and
receive ids only, so they re-read what they need.
"""

import logging
from collections import defaultdict
from collections.abc import Callable

from django.db import transaction

logger = logging.getLogger(__name__)

CONVERSATION_OPENED = "conversation.opened"  # conversation_id
MESSAGE_RECEIVED = "message.received"  # message_id, conversation_id, conversation_created
MESSAGE_STATUS_CHANGED = "message.status_changed"  # message_id, conversation_id, status
MESSAGE_SENT = "message.sent"  # message_id, conversation_id (outbound, accepted by provider)
CONVERSATION_CLOSED = "conversation.closed"  # conversation_id, reason

_subscribers: dict[str, list[Callable[..., None]]] = defaultdict(list)


def subscribe(event: str, handler: Callable[..., None]) -> None:
    if handler not in _subscribers[event]:
        _subscribers[event].append(handler)


def _deliver(event: str, payload: dict) -> None:
    for handler in list(_subscribers[event]):
        with transaction.atomic():
            handler(**payload)


def announce(event: str, **payload) -> None:
    """Runs the subscribers of event after the current transaction commits."""
    transaction.on_commit(lambda: _deliver(event, payload), robust=False)
