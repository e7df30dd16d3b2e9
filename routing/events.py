"""The one module through which every routing change is announced.

emit() stores a TaskEvent row on the task's timeline, publishes it after commit to the agent's
group and the tenant's supervisors group (event "routing.<kind>", the message shape of
tenants.realtime; a batch of events goes out over one channel-layer connection), and after commit
calls the in-process subscribers registered with subscribe(kind, handler). Handlers receive ids
only: task_id, event_id, kind, agent_id, offer_id, conversation_id, queue_id.

Kinds: queued, offered, accepted, declined (data.outcome "declined" or "withdrawn" when the agent
left available or the task closed), rona, relaxed, overflowed, closed. Agent state changes are
pushed as "routing.agent_state" by routing.services.agents.
"""

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from routing.models import TaskEvent, TaskEventKind
from tenants.realtime import Push, send_events_on_commit, watcher_groups

logger = logging.getLogger(__name__)

KINDS: tuple[str, ...] = tuple(TaskEventKind.values)

_subscribers: dict[str, list[Callable[..., None]]] = defaultdict(list)


def subscribe(kind: str, handler: Callable[..., None]) -> None:
    """Registers handler(**ids) to run after commit for every event of kind ("*" for all)."""
    if kind != "*" and kind not in KINDS:
        raise ValueError(f"unknown routing event kind {kind!r}; one of {', '.join(KINDS)}")
    if handler not in _subscribers[kind]:
        _subscribers[kind].append(handler)


def unsubscribe(kind: str, handler: Callable[..., None]) -> None:
    if handler in _subscribers[kind]:
        _subscribers[kind].remove(handler)


@dataclass
class Emission:
    task_id: int
    tenant_id: int
    conversation_id: int
    kind: str
    agent_id: int | None = None
    offer_id: int | None = None
    queue_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    # Extra fields for the realtime push only (the offer card the desktop shows).
    push: dict[str, Any] = field(default_factory=dict)


def _deliver(items: list[dict[str, Any]]) -> None:
    for ids in items:
        for handler in [*_subscribers.get(ids["kind"], []), *_subscribers.get("*", [])]:
            try:
                with transaction.atomic():
                    handler(**ids)
            except Exception:  # one subscriber's failure must not undo routing or stop the others
                logger.exception("routing event subscriber %r failed for %s", handler, ids)


def emit(items: Iterable[Emission], *, also: Iterable[Push] = ()) -> list[TaskEvent]:
    """Stores and announces the events; `also` are further pushes of the same change (agents'
    states), sent in the same batch so each group gets one message."""
    items = list(items)
    if not items:
        if also := list(also):
            send_events_on_commit(also)
        return []
    now = timezone.now()
    rows = TaskEvent.objects.bulk_create(
        [
            TaskEvent(
                tenant_id=e.tenant_id,
                task_id=e.task_id,
                kind=e.kind,
                at=now,
                agent_id=e.agent_id,
                offer_id=e.offer_id,
                queue_id=e.queue_id,
                data=e.data,
            )
            for e in items
        ]
    )
    announce(list(zip(items, (row.pk for row in rows), strict=True)), at=now, also=also)
    return rows


def announce(
    stored: list[tuple[Emission, int]], *, at: datetime, also: Iterable[Push] = ()
) -> None:
    """Publishes events whose timeline rows are stored (by emit, or by a sweep's set-based
    INSERT): (emission, event id) pairs, pushed after commit in one batch, then the subscribers."""
    delivered: list[dict[str, Any]] = []
    pushes: list[Push] = []
    when = at.isoformat()
    for e, event_id in stored:
        ids = {
            "task_id": e.task_id,
            "event_id": event_id,
            "kind": e.kind,
            "agent_id": e.agent_id,
            "offer_id": e.offer_id,
            "conversation_id": e.conversation_id,
            "queue_id": e.queue_id,
        }
        payload = {**ids, "at": when, "data": e.data, **e.push}
        groups = watcher_groups(tenant_id=e.tenant_id, agent_id=e.agent_id)
        pushes.append(Push(groups, f"routing.{e.kind}", payload))
        delivered.append(ids)
    send_events_on_commit([*pushes, *also])  # one layer connection for the whole batch
    if any(_subscribers.values()):
        transaction.on_commit(lambda: _deliver(delivered))


def emit_one(**kwargs: Any) -> TaskEvent:
    return emit([Emission(**kwargs)])[0]
