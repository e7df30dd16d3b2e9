"""The narrow interface through which channels_app announces what happened to conversations.

routing subscribes here (from its AppConfig.ready); channels_app never imports routing.
Handlers run after the announcing transaction commits, each in its own transaction, and
receive ids only, so they re-read what they need. A handler subscribed with in_transaction=True
runs at the announcement itself, inside the announcing transaction: what it writes commits (or
rolls back) with what was announced; it must not fail the announcer (catch, or defer to a task).
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
_in_transaction: dict[str, list[Callable[..., None]]] = defaultdict(list)


def subscribe(event: str, handler: Callable[..., None], *, in_transaction: bool = False) -> None:
    handlers = _in_transaction[event] if in_transaction else _subscribers[event]
    if handler not in handlers:
        handlers.append(handler)


def _deliver(event: str, payload: dict) -> None:
    for handler in list(_subscribers[event]):
        with transaction.atomic():
            handler(**payload)


def announce(event: str, **payload) -> None:
    """Runs the in-transaction subscribers of event now, the others after the current transaction
    commits."""
    for handler in list(_in_transaction[event]):
        handler(**payload)
    if _subscribers[event]:
        transaction.on_commit(lambda: _deliver(event, payload), robust=False)
