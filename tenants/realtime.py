"""The one way the project pushes realtime events: after commit, to a named group.

Pushes are hints to re-read; the database is the truth. Services call send_event_on_commit;
signals never do. Consumers join the groups named by the helpers below.
"""

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def agent_group(agent_id: int) -> str:
    return f"agent.{agent_id}"


def tenant_group(tenant_id: int) -> str:
    """Supervisors' console of one tenant."""
    return f"tenant.{tenant_id}"


def send_event(*, groups: list[str], event: str, payload: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "push.event", "event": event, "payload": payload}
    for group in groups:
        try:
            async_to_sync(layer.group_send)(group, message)
        except Exception:  # a lost push is recovered by the client's re-read
            logger.warning("push of %s to %s failed", event, group, exc_info=True)


def send_event_on_commit(*, groups: list[str], event: str, payload: dict[str, Any]) -> None:
    transaction.on_commit(lambda: send_event(groups=groups, event=event, payload=payload))
