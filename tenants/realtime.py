"""The one way the project pushes realtime events: after commit, to named groups.

Pushes are hints to re-read; the database is the truth. Services call send_event_on_commit (or
send_events_on_commit for a batch); signals never do. Consumers join the groups named below and
handle two message types: "push.event" (event, payload) and "push.events" (events: a list of
{event, payload} in order), which a batch uses for a group that receives several events.
"""

import asyncio
import logging
import os
import threading
from typing import Any, NamedTuple

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
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


def watcher_groups(*, tenant_id: int, agent_id: int | None) -> list[str]:
    """Who hears of a change: the agent concerned first (if any), then the tenant's console."""
    if agent_id:
        return [agent_group(agent_id), tenant_group(tenant_id)]
    return [tenant_group(tenant_id)]


# Most pushes one layer message may carry (a sweep's batch goes out in a few messages).
BATCH_MESSAGE_EVENTS = 200
# Groups sent to at once from one batch.
SEND_CONCURRENCY = 16


def layer_messages(pushes: list[Push]) -> list[tuple[str, dict[str, Any]]]:
    """The channel-layer messages for a batch of pushes: per group, in order, one "push.event"
    for a single event or "push.events" (events: [{event, payload}, ...]) for several. A sweep that
    ends 1,000 offers sends a handful of messages to the tenant's group, not 1,000."""
    per_group: dict[str, list[dict[str, Any]]] = {}
    for push in pushes:
        for group in push.groups:
            per_group.setdefault(group, []).append({"event": push.event, "payload": push.payload})
    messages = []
    for group, events in per_group.items():
        if len(events) == 1:
            messages.append((group, {"type": "push.event", **events[0]}))
            continue
        for i in range(0, len(events), BATCH_MESSAGE_EVENTS):
            chunk = events[i : i + BATCH_MESSAGE_EVENTS]
            messages.append((group, {"type": "push.events", "events": chunk}))
    return messages


# How long a sync caller waits for its pushes before it gives up on them (they are hints).
PUSH_TIMEOUT_SECONDS = 5.0


class _PushLoop:
    """One event loop a process, in a daemon thread, for pushes sent from plain threads (Celery's
    pool). The Redis channel layer keeps its connections per event loop: with a fresh loop per
    call (async_to_sync from a thread without one) every push connected to Redis and closed again.
    Rebuilt after a fork, whose child has the loop object but not its thread."""

    lock = threading.Lock()
    loop: asyncio.AbstractEventLoop | None = None
    pid: int | None = None

    @classmethod
    def get(cls) -> asyncio.AbstractEventLoop:
        with cls.lock:
            if cls.loop is None or cls.pid != os.getpid():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="realtime-push", daemon=True).start()
                cls.loop, cls.pid = loop, os.getpid()
            return cls.loop


def _run_pushes(layer, send_all) -> None:
    if isinstance(layer, InMemoryChannelLayer):
        # Its queues belong to the server's own loop, which async_to_sync finds from a view.
        async_to_sync(send_all)()
        return
    future = asyncio.run_coroutine_threadsafe(send_all(), _PushLoop.get())
    try:
        future.result(timeout=PUSH_TIMEOUT_SECONDS)
    except TimeoutError:
        future.cancel()
        raise


def send_events(pushes: list[Push]) -> None:
    """Sends a batch of pushes in one event loop and as few layer messages as the groups need.

    Consumers that join these groups handle both "push.event" and "push.events"."""
    layer = get_channel_layer()
    if layer is None or not pushes:
        return

    per_group: dict[str, list[dict[str, Any]]] = {}
    for group, message in layer_messages(pushes):
        per_group.setdefault(group, []).append(message)

    async def send_all() -> None:
        # Groups are independent: a few at once, each group's messages in order.
        gate = asyncio.Semaphore(SEND_CONCURRENCY)

        async def send_group(group: str, messages: list[dict[str, Any]]) -> None:
            async with gate:
                for message in messages:
                    try:
                        await layer.group_send(group, message)
                    except Exception:  # a lost push is recovered by the client's re-read
                        logger.warning("push to %s failed", group, exc_info=True)

        await asyncio.gather(*(send_group(g, m) for g, m in per_group.items()))

    try:
        _run_pushes(layer, send_all)
    except Exception:
        logger.warning("pushes failed", exc_info=True)


def send_event(*, groups: list[str], event: str, payload: dict[str, Any]) -> None:
    send_events([Push(groups, event, payload)])


def send_events_on_commit(pushes: list[Push]) -> None:
    transaction.on_commit(lambda: send_events(pushes))


def send_event_on_commit(*, groups: list[str], event: str, payload: dict[str, Any]) -> None:
    send_events_on_commit([Push(groups, event, payload)])
