"""The one way the project pushes realtime events: after commit, to named groups.

Pushes are hints to re-read; the database is the truth. Services call send_event_on_commit (or
send_events_on_commit for a batch); signals never do. Consumers join the groups named below.
"""

import logging
from typing import Any, NamedTuple

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


class Push(NamedTuple):
    groups: list[str]
    event: str
    payload: dict[str, Any]


def agent_group(agent_id: int) -> str:
    return f"agent.{agent_id}"


def tenant_group(tenant_id: int) -> str:
    """Supervisors' console of one tenant."""
    return f"tenant.{tenant_id}"


def send_events(pushes: list[Push]) -> None:
    """Sends every push in one event loop, so a batch of hundreds shares one layer connection."""
    layer = get_channel_layer()
    if layer is None or not pushes:
        return

    async def send_all() -> None:
        for push in pushes:
            message = {"type": "push.event", "event": push.event, "payload": push.payload}
            for group in push.groups:
                try:
                    await layer.group_send(group, message)
                except Exception:  # a lost push is recovered by the client's re-read
                    logger.warning("push of %s to %s failed", push.event, group, exc_info=True)

    try:
        async_to_sync(send_all)()
    except Exception:
        logger.warning("pushes failed", exc_info=True)


def send_event(*, groups: list[str], event: str, payload: dict[str, Any]) -> None:
    send_events([Push(groups, event, payload)])


def send_events_on_commit(pushes: list[Push]) -> None:
    transaction.on_commit(lambda: send_events(pushes))


def send_event_on_commit(*, groups: list[str], event: str, payload: dict[str, Any]) -> None:
    send_events_on_commit([Push(groups, event, payload)])
