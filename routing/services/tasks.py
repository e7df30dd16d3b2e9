"""Tasks and offers: enqueue, accept, decline, RONA, withdraw, close, relaxation and overflow.

Lock order everywhere: offers, then tasks, then agent states (agent states in id order), so two
services never wait on each other in a cycle. Every transition is a conditional change of a
locked row, so running a service twice does no harm.
"""

import json
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from channels_app.livechat.services import visitor_agent_joined
from channels_app.models import Conversation, Direction, Message, channel_display_name
from config import pipeline
from config.broker import enqueue
from routing import events
from routing.errors import RoutingError
from routing.models import (
    ACTIVE_TASK_STATUSES,
    AgentState,
    AgentStateChange,
    AgentStatus,
    Offer,
    OfferStatus,
    Queue,
    Task,
    TaskEvent,
    TaskEventKind,
    TaskStatus,
)
from routing.services.bulk import rows_update
from routing.services.skills import (
    relaxation_resolve,
    requirements_after,
    requirements_key,
    requirements_resolve,
)
from tenants.models import Agent, TenantPolicy

SWEEP_BATCH = 500
RELAX_BATCH = 5000


def _route_queues_later(queue_ids) -> None:
    """After commit: routes each queue in line at the end of the inbound pipeline, else in a task."""
    from routing.services.router import route_queue as route_now
    from routing.tasks import route_queue

    for queue_id in sorted(set(queue_ids)):
        pipeline.defer(
            order=pipeline.ROUTE,
            key=("route_queue", queue_id),
            run=lambda queue_id=queue_id: route_now(queue_id=queue_id),
            fallback=lambda queue_id=queue_id: enqueue(route_queue, queue_id),
        )


def _route_agents_later(agent_ids) -> None:
    from routing.tasks import route_for_agent

    for agent_id in sorted(set(agent_ids)):
        enqueue(route_for_agent, agent_id)


def rona_seconds(*, tenant_id: int, channel_type: str) -> int:
    policy = TenantPolicy.objects.filter(tenant_id=tenant_id).first() or TenantPolicy()
    return policy.rona_seconds(channel_type)


def _task_deadlines(task: Task) -> None:
    steps = task.relaxation_steps
    if task.status in ACTIVE_TASK_STATUSES and task.relaxation_level < len(steps):
        task.next_relaxation_at = task.enqueued_at + timedelta(
            seconds=steps[task.relaxation_level]["after_seconds"]
        )
    else:
        task.next_relaxation_at = None


def task_enqueue(
    *,
    conversation: Conversation,
    queue: Queue,
    priority: int = 5,
    requirements: list[dict] | None = None,
    relaxation_steps: list[dict] | None = None,
    variables: dict | None = None,
) -> Task:
    """Puts a conversation in a queue as a routable task; returns the waiting task if there is one."""
    if queue.tenant_id != conversation.tenant_id:
        raise ValidationError({"queue": "No such queue in this tenant."})
    if conversation.media_type != queue.channel_type:
        raise ValidationError(
            {
                "queue": f"Queue {queue.name} takes {queue.channel_type} contacts; this "
                f"conversation is {conversation.media_type}."
            }
        )
    if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 10:
        raise ValidationError({"priority": "Priority is a whole number from 1 (highest) to 10."})
    if variables is not None and not isinstance(variables, dict):
        raise ValidationError({"variables": "Variables must be an object."})
    if conversation.status != Conversation.Status.OPEN:
        raise ValidationError("The conversation is closed; it cannot be queued.")
    resolved = (
        requirements_resolve(tenant=queue.tenant, requirements=requirements) if requirements else []
    )
    steps = (
        relaxation_resolve(tenant=queue.tenant, requirements=resolved, steps=relaxation_steps)
        if relaxation_steps
        else []
    )
    if requirements is not None and not isinstance(requirements, list):
        raise ValidationError("Skill requirements must be a list.")
    if relaxation_steps is not None and not isinstance(relaxation_steps, list):
        raise ValidationError("Relaxation steps must be a list.")
    # The insert comes first: the unique constraint (one active task per conversation and queue)
    # answers "is it queued already?" in the same statement, and a new contact is the usual case.
    now = timezone.now()
    task = Task(
        tenant_id=queue.tenant_id,
        conversation=conversation,
        queue=queue,
        channel_type=queue.channel_type,
        priority=priority,
        enqueued_at=now,
        queue_entered_at=now,
        requirements=resolved,
        relaxation_steps=steps,
        current_requirements=resolved,
        requirements_key=requirements_key(resolved),
        variables=variables or {},
    )
    _task_deadlines(task)
    # Steps due at once (after_seconds 0) apply right away.
    while task.next_relaxation_at is not None and task.next_relaxation_at <= now:
        task.relaxation_level += 1
        _task_deadlines(task)
    if task.relaxation_level:
        task.current_requirements = requirements_after(
            requirements=resolved, steps=steps, level=task.relaxation_level
        )
        task.requirements_key = requirements_key(task.current_requirements)
    if queue.max_time_in_queue_seconds:
        task.overflow_at = now + timedelta(seconds=queue.max_time_in_queue_seconds)
    try:
        with transaction.atomic():
            task.save()
            events.emit_one(
                task_id=task.pk,
                tenant_id=task.tenant_id,
                conversation_id=conversation.pk,
                kind=TaskEventKind.QUEUED,
                queue_id=queue.pk,
                data={"priority": priority, "requirements": _public(task.current_requirements)},
            )
            transaction.on_commit(lambda: _route_queues_later([queue.pk]))
    except IntegrityError as exc:
        # Queued already (or another enqueue of the same conversation won the race): its task.
        if _constraint_name(exc) not in ("", "task_one_active_per_conversation_queue"):
            raise
        existing = Task.objects.filter(
            conversation=conversation, queue=queue, status__in=ACTIVE_TASK_STATUSES
        ).first()
        if existing is None:
            raise
        return existing
    return task


def _constraint_name(exc: IntegrityError) -> str:
    return getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) or ""


def _public(requirements: list[dict]) -> list[dict]:
    return [
        {"skill": r["skill"], "operator": r["operator"], "value": r["value"]} for r in requirements
    ]


# --- Offers -----------------------------------------------------------------------------------


def offer_payloads(
    offers: list[Offer], *, tasks: list[Task] | None = None
) -> dict[int, dict[str, Any]]:
    """What the desktop shows for each offer, in two queries however many offers (one when the
    caller has the offers' tasks, with their queue, at hand)."""
    if not offers:
        return {}
    # Who handed the contact on, for offers a colleague's transfer made (the router's own offers,
    # which come with their tasks, never are).
    transferred_by: dict[tuple[int, int], str] = {}
    if tasks is None:
        tasks = Task.objects.filter(pk__in={o.task_id for o in offers}).select_related("queue")
        for task_id, data in TaskEvent.objects.filter(
            task_id__in={o.task_id for o in offers}, kind=TaskEventKind.TRANSFERRED
        ).values_list("task_id", "data"):
            if data.get("to_agent_id") and data.get("by_name"):
                transferred_by[(task_id, data["to_agent_id"])] = data["by_name"]
    tasks = {t.pk: t for t in tasks}
    last_inbound = (
        Message.objects.filter(conversation_id=OuterRef("pk"), direction=Direction.INBOUND)
        .order_by("-created_at", "-id")
        .values("text")[:1]
    )
    conversations = {
        c.pk: c
        for c in Conversation.objects.filter(pk__in={t.conversation_id for t in tasks.values()})
        .select_related("customer")
        .annotate(preview=Subquery(last_inbound))
    }
    now = timezone.now()
    payloads = {}
    for offer in offers:
        task = tasks[offer.task_id]
        conversation = conversations[task.conversation_id]
        payloads[offer.pk] = {
            "offer_id": offer.pk,
            "task_id": task.pk,
            "conversation_id": conversation.pk,
            "conversation_uuid": str(conversation.uuid),
            "customer_name": str(conversation.customer),
            "channel_kind": conversation.kind,
            "channel_name": channel_display_name(conversation.kind),
            "channel_type": task.channel_type,
            "queue_id": task.queue_id,
            "queue_name": task.queue.name,
            "priority": task.priority,
            "enqueued_at": task.enqueued_at.isoformat(),
            "wait_seconds": max(0, int((now - task.enqueued_at).total_seconds())),
            "preview": (conversation.preview or "")[:280],
            "expires_at": offer.expires_at.isoformat(),
        }
        if (task.pk, offer.agent_id) in transferred_by:
            payloads[offer.pk]["transferred_by"] = transferred_by[(task.pk, offer.agent_id)]
    return payloads


def _agents_release(*, agent_counts: dict[int, dict[str, int]]) -> None:
    """Gives back engaged capacity; the caller holds the changes that justify it.

    One UPDATE per distinct change (usually one: a chat each), however many agents."""
    by_change: dict[tuple[tuple[str, int], ...], list[int]] = defaultdict(list)
    for agent_id, counts in agent_counts.items():
        change = tuple(sorted((media, n) for media, n in counts.items() if n))
        if change:
            by_change[change].append(agent_id)
    for change, agent_ids in sorted(by_change.items()):
        AgentState.objects.filter(pk__in=sorted(agent_ids)).update(
            **{f"engaged_{media}": F(f"engaged_{media}") - n for media, n in change}
        )


def offers_end(*, offers: list[Offer], outcome: str, now: datetime | None = None) -> list[Offer]:
    """Ends locked pending offers (declined, expired or withdrawn): tasks go back to their place in
    line, capacity comes back, and for expiry the agent goes to RONA. Returns the offers it ended."""
    now = now or timezone.now()
    offers = [o for o in offers if o.status == OfferStatus.PENDING]
    if not offers:
        return []
    ended_ids = list(
        Offer.objects.filter(pk__in=[o.pk for o in offers], status=OfferStatus.PENDING).values_list(
            "pk", flat=True
        )
    )
    offers = [o for o in offers if o.pk in set(ended_ids)]
    Offer.objects.filter(pk__in=ended_ids).update(status=outcome, decided_at=now)
    task_ids = [o.task_id for o in offers]
    Task.objects.filter(pk__in=task_ids, status=TaskStatus.OFFERED).update(
        status=TaskStatus.WAITING
    )
    agent_ids = sorted({o.agent_id for o in offers})
    # Lock the agents' rows in id order before changing them.
    states = {
        s.pk: s
        for s in AgentState.objects.select_for_update().filter(pk__in=agent_ids).order_by("pk")
    }
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for o in offers:
        counts[o.agent_id][o.channel_type] += 1
    _agents_release(agent_counts=counts)
    to_rona: list[int] = []
    if outcome == OfferStatus.EXPIRED:
        to_rona = [a for a in agent_ids if a in states and states[a].state == AgentStatus.AVAILABLE]
        if to_rona:
            AgentState.objects.filter(pk__in=to_rona).update(
                state=AgentStatus.RONA, state_since=now
            )
            AgentStateChange.objects.bulk_create(
                [
                    AgentStateChange(
                        tenant_id=states[a].tenant_id,
                        agent_id=a,
                        state=AgentStatus.RONA,
                        previous_state=AgentStatus.AVAILABLE,
                        reason="offer_unanswered",
                        at=now,
                    )
                    for a in to_rona
                ]
            )
    kind = {
        OfferStatus.DECLINED: TaskEventKind.DECLINED,
        OfferStatus.EXPIRED: TaskEventKind.RONA,
        OfferStatus.WITHDRAWN: TaskEventKind.DECLINED,
    }[outcome]
    rows = list(
        Task.objects.filter(pk__in=task_ids).values_list("pk", "conversation_id", "queue_id")
    )
    conversations = {pk: conversation_id for pk, conversation_id, _ in rows}
    queue_ids = {queue_id for _, _, queue_id in rows}
    from routing.services.agents import agent_state_push

    # The agents now in RONA are announced in the same batch as the offers' events.
    state_pushes = [agent_state_push(s) for s in AgentState.objects.filter(pk__in=to_rona)]
    events.emit(
        [
            events.Emission(
                task_id=o.task_id,
                tenant_id=o.tenant_id,
                conversation_id=conversations[o.task_id],
                kind=kind,
                agent_id=o.agent_id,
                offer_id=o.pk,
                data={"outcome": outcome},
            )
            for o in offers
        ],
        also=state_pushes,
    )
    transaction.on_commit(lambda: _route_queues_later(queue_ids))
    if outcome != OfferStatus.EXPIRED:
        transaction.on_commit(lambda: _route_agents_later(agent_ids))
    for o in offers:
        o.status, o.decided_at = outcome, now
    return offers


def _offer_for_agent(*, offer_id: int, agent: Agent) -> Offer:
    offer = Offer.objects.select_for_update().filter(pk=offer_id, agent=agent).first()
    if offer is None:
        raise RoutingError("No such offer.", code="not_found")
    return offer


@transaction.atomic
def offer_accept(*, offer_id: int, agent: Agent, auto: bool = False) -> Offer:
    """The agent takes the contact: they own the conversation; capacity stays engaged.

    auto: accepted for the agent, who opted in to auto-accept for the offer's queue."""
    offer = _offer_for_agent(offer_id=offer_id, agent=agent)
    if offer.status == OfferStatus.ACCEPTED:
        return offer
    if offer.status != OfferStatus.PENDING:
        raise RoutingError(
            f"This offer was {offer.get_status_display().lower()}; it can no longer be accepted.",
            code="offer_ended",
        )
    now = timezone.now()
    if offer.expires_at <= now:
        raise RoutingError(
            "This offer has expired; it can no longer be accepted.", code="offer_expired"
        )
    Offer.objects.filter(pk=offer.pk, status=OfferStatus.PENDING).update(
        status=OfferStatus.ACCEPTED, decided_at=now
    )
    offer.status, offer.decided_at = OfferStatus.ACCEPTED, now
    task = Task.objects.select_for_update().get(pk=offer.task_id)
    task.status, task.agent, task.assigned_at = TaskStatus.ASSIGNED, agent, now
    task.next_relaxation_at = task.overflow_at = None
    task.save(update_fields=["status", "agent", "assigned_at", "next_relaxation_at", "overflow_at"])
    Conversation.objects.filter(pk=task.conversation_id).update(owner=agent)
    visitor_agent_joined(conversation_id=task.conversation_id, agent=agent)
    wait = (now - task.enqueued_at).total_seconds()
    events.emit_one(
        task_id=task.pk,
        tenant_id=task.tenant_id,
        conversation_id=task.conversation_id,
        kind=TaskEventKind.ACCEPTED,
        agent_id=agent.pk,
        offer_id=offer.pk,
        queue_id=task.queue_id,
        data={
            "wait_seconds": round(wait, 3),
            "within_service_level": wait <= task.queue.service_level_seconds,
            **({"auto_accepted": True} if auto else {}),
        },
        push={
            "conversation_uuid": str(task.conversation.uuid),
            **({"auto_accepted": True} if auto else {}),
        },
    )
    return offer


@transaction.atomic
def offer_decline(*, offer_id: int, agent: Agent) -> Offer:
    """The task goes back to its place in line; the agent stays available."""
    offer = _offer_for_agent(offer_id=offer_id, agent=agent)
    if offer.status == OfferStatus.DECLINED:
        return offer
    if offer.status != OfferStatus.PENDING:
        raise RoutingError(
            f"This offer was {offer.get_status_display().lower()}; it can no longer be declined.",
            code="offer_ended",
        )
    Task.objects.select_for_update().filter(pk=offer.task_id).first()
    offers_end(offers=[offer], outcome=OfferStatus.DECLINED)
    return offer


def offers_expire_due(*, now: datetime | None = None, batch: int = SWEEP_BATCH) -> int:
    """RONA: ends the pending offers past expires_at. Safe to run in any number of workers."""
    now = now or timezone.now()
    total = 0
    while True:
        with transaction.atomic():
            due = list(
                Offer.objects.select_for_update(skip_locked=True)
                .filter(status=OfferStatus.PENDING, expires_at__lte=now)
                .order_by("expires_at", "pk")[:batch]
            )
            if not due:
                return total
            total += len(offers_end(offers=due, outcome=OfferStatus.EXPIRED, now=now))
        if len(due) < batch:
            return total


# --- Closing ------------------------------------------------------------------------------------


class _Retry(Exception):
    pass


def task_close(*, task: Task, reason: str) -> Task:
    """Ends the task for good: withdraws a pending offer, frees the agent's capacity."""
    for _ in range(5):
        try:
            return _task_close(task_id=task.pk, reason=reason)
        except _Retry:
            continue
    raise RoutingError("The task is busy; try closing it again.", code="busy")


@transaction.atomic
def _task_close(*, task_id: int, reason: str) -> Task:
    pending = list(
        Offer.objects.select_for_update().filter(task_id=task_id, status=OfferStatus.PENDING)
    )
    task = Task.objects.select_for_update().get(pk=task_id)
    if task.status == TaskStatus.CLOSED:
        return task
    if task.status == TaskStatus.OFFERED and not pending:
        raise _Retry  # a router committed an offer after we looked; look again
    if pending:
        offers_end(offers=pending, outcome=OfferStatus.WITHDRAWN)
        task.refresh_from_db()
    freed_agent = task.agent_id if task.status == TaskStatus.ASSIGNED else None
    if freed_agent:
        AgentState.objects.select_for_update().filter(pk=freed_agent).first()
        _agents_release(agent_counts={freed_agent: {task.channel_type: 1}})
    task.status, task.closed_at, task.close_reason = TaskStatus.CLOSED, timezone.now(), reason[:40]
    task.next_relaxation_at = task.overflow_at = None
    task.save(
        update_fields=["status", "closed_at", "close_reason", "next_relaxation_at", "overflow_at"]
    )
    events.emit_one(
        task_id=task.pk,
        tenant_id=task.tenant_id,
        conversation_id=task.conversation_id,
        kind=TaskEventKind.CLOSED,
        agent_id=task.agent_id,
        queue_id=task.queue_id,
        data={"reason": task.close_reason},
    )
    if freed_agent:
        transaction.on_commit(lambda: _route_agents_later([freed_agent]))
    return task


def conversation_tasks_close(*, conversation_id: int, reason: str) -> int:
    tasks = list(
        Task.objects.filter(conversation_id=conversation_id).exclude(status=TaskStatus.CLOSED)
    )
    for task in tasks:
        task_close(task=task, reason=reason or "conversation_closed")
    return len(tasks)


# --- Relaxation and overflow -------------------------------------------------------------------------


def _relaxed_data(current: list[dict], applied: list[dict]) -> dict[str, Any]:
    keys = ("after_seconds", "skill", "action", "operator", "value")
    return {
        "steps": [{k: s.get(k) for k in keys if k in s} for s in applied],
        "requirements": _public(current),
    }


def tasks_relax_due(*, now: datetime | None = None, batch: int = RELAX_BATCH) -> int:
    """Applies due relaxation steps. On PostgreSQL each batch is two statements whatever its size
    (see _relax_batch_sql) and one batch of pushes; elsewhere one locking read, one UPDATE and one
    batch of events."""
    now = now or timezone.now()
    relax = _relax_batch_sql if connection.vendor == "postgresql" else _relax_batch_portable
    total = 0
    while True:
        with transaction.atomic():
            count, queue_ids = relax(now=now, batch=batch)
            transaction.on_commit(lambda queue_ids=queue_ids: _route_queues_later(queue_ids))
        total += count
        if count < batch:
            return total


# The due tasks of one batch, locked and grouped by what decides their outcome: the requirements,
# the steps, the level they are at and the level they reach. The level reached is the first step
# after the current one whose time has not come (the steps are in time order), as the loop of
# _relax_batch_portable finds it. Tasks share a handful of such groups (one per flow node and
# step), so Python works out each group once and never reads a task's JSON.
RELAX_DUE_SQL = """
WITH due AS (
    SELECT t.id, t.requirements, t.relaxation_steps, t.relaxation_level,
           COALESCE(
               (SELECT min(s.i - 1)
                  FROM jsonb_array_elements(t.relaxation_steps) WITH ORDINALITY AS s(step, i)
                 WHERE s.i - 1 > t.relaxation_level
                   AND t.enqueued_at + (s.step ->> 'after_seconds')::int * interval '1 second'
                       > %(now)s),
               GREATEST(t.relaxation_level + 1, jsonb_array_length(t.relaxation_steps))
           ) AS level
      FROM routing_task t
     WHERE t.next_relaxation_at <= %(now)s AND t.status IN ('waiting', 'offered')
     ORDER BY t.next_relaxation_at, t.id
     LIMIT %(batch)s
       FOR UPDATE OF t SKIP LOCKED
)
SELECT requirements, relaxation_steps, relaxation_level, level, array_agg(id)
  FROM due GROUP BY requirements, relaxation_steps, relaxation_level, level
"""

# One statement writes the whole batch: each task takes its group's outcome (level, requirements,
# key, next due time from its own enqueued_at) and gets its timeline row.
RELAX_WRITE_SQL = """
WITH outcome AS (
    SELECT * FROM unnest(%(levels)s::integer[], %(next_after)s::integer[],
                         %(requirements)s::jsonb[], %(keys)s::text[], %(data)s::jsonb[])
           WITH ORDINALITY AS o(level, next_after, requirements, key, data, n)
), moved AS (
    UPDATE routing_task t
       SET relaxation_level = o.level,
           next_relaxation_at = t.enqueued_at + o.next_after * interval '1 second',
           current_requirements = o.requirements,
           requirements_key = o.key
      FROM unnest(%(ids)s::bigint[], %(outcomes)s::bigint[]) AS v(id, n)
      JOIN outcome o ON o.n = v.n
     WHERE t.id = v.id
 RETURNING t.id, t.tenant_id, t.conversation_id, t.queue_id, o.n, o.data
), stored AS (
    INSERT INTO routing_taskevent (tenant_id, task_id, kind, at, queue_id, data)
    SELECT tenant_id, id, %(kind)s, %(at)s, queue_id, data FROM moved
    RETURNING id, task_id
)
SELECT s.id, m.id, m.tenant_id, m.conversation_id, m.queue_id, m.n
  FROM stored s JOIN moved m ON m.id = s.task_id
 ORDER BY s.id
"""


def _relaxed_outcome(
    *, requirements: list[dict], steps: list[dict], before: int, level: int
) -> dict[str, Any]:
    """What a task at `before` with these requirements and steps becomes at `level`."""
    current = requirements_after(requirements=requirements, steps=steps, level=level)
    return {
        "level": level,
        "next_after": steps[level]["after_seconds"] if level < len(steps) else None,
        "requirements": current,
        "key": requirements_key(current),
        "data": _relaxed_data(current, steps[before:level]),
    }


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _relax_batch_sql(*, now: datetime, batch: int) -> tuple[int, set[int]]:
    with connection.cursor() as cursor:
        cursor.execute(RELAX_DUE_SQL, {"now": now, "batch": batch})
        groups = cursor.fetchall()
        if not groups:
            return 0, set()
        outcomes = []
        ids: list[int] = []
        numbers: list[int] = []
        for n, (requirements, steps, before, level, task_ids) in enumerate(groups, 1):
            outcomes.append(
                _relaxed_outcome(
                    requirements=_json(requirements), steps=_json(steps), before=before, level=level
                )
            )
            ids += task_ids
            numbers += [n] * len(task_ids)
        at = timezone.now()
        cursor.execute(
            RELAX_WRITE_SQL,
            {
                "levels": [o["level"] for o in outcomes],
                "next_after": [o["next_after"] for o in outcomes],
                "requirements": [json.dumps(o["requirements"]) for o in outcomes],
                "keys": [o["key"] for o in outcomes],
                "data": [json.dumps(o["data"]) for o in outcomes],
                "ids": ids,
                "outcomes": numbers,
                "kind": TaskEventKind.RELAXED,
                "at": at,
            },
        )
        rows = cursor.fetchall()
    events.announce(
        [
            (
                events.Emission(
                    task_id=task_id,
                    tenant_id=tenant_id,
                    conversation_id=conversation_id,
                    kind=TaskEventKind.RELAXED,
                    queue_id=queue_id,
                    data=outcomes[n - 1]["data"],
                ),
                event_id,
            )
            for event_id, task_id, tenant_id, conversation_id, queue_id, n in rows
        ],
        at=at,
    )
    return len(ids), {row[4] for row in rows}


def _relax_batch_portable(*, now: datetime, batch: int) -> tuple[int, set[int]]:
    """The same with the ORM (the embedded SQLite setup): one locking read, one UPDATE, one batch
    of events."""
    due = list(
        Task.objects.select_for_update(skip_locked=True)
        .filter(next_relaxation_at__lte=now, status__in=ACTIVE_TASK_STATUSES)
        .order_by("next_relaxation_at", "pk")
        .only(
            "id",
            "tenant_id",
            "conversation_id",
            "queue_id",
            "enqueued_at",
            "status",
            "requirements",
            "relaxation_steps",
            "relaxation_level",
            "next_relaxation_at",
        )[:batch]
    )
    emissions = []
    for task in due:
        before = task.relaxation_level
        while task.next_relaxation_at is not None and task.next_relaxation_at <= now:
            task.relaxation_level += 1
            _task_deadlines(task)
        task.current_requirements = requirements_after(
            requirements=task.requirements,
            steps=task.relaxation_steps,
            level=task.relaxation_level,
        )
        task.requirements_key = requirements_key(task.current_requirements)
        applied = task.relaxation_steps[before : task.relaxation_level]
        emissions.append(
            events.Emission(
                task_id=task.pk,
                tenant_id=task.tenant_id,
                conversation_id=task.conversation_id,
                kind=TaskEventKind.RELAXED,
                queue_id=task.queue_id,
                data=_relaxed_data(task.current_requirements, applied),
            )
        )
    rows_update(
        Task,
        due,
        ["relaxation_level", "next_relaxation_at", "current_requirements", "requirements_key"],
    )
    events.emit(emissions)
    return len(due), {t.queue_id for t in due}


def tasks_overflow_due(*, now: datetime | None = None, batch: int = SWEEP_BATCH) -> int:
    """Waiting tasks past their queue's maximum time move to the overflow queue.

    Each batch: one locking read, one read of the target queues, one of the tasks already active
    there, one UPDATE per target queue (and one for the tasks that stay) and one batch of events."""
    now = now or timezone.now()
    total = 0
    while True:
        with transaction.atomic():
            due = list(
                Task.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("queue")
                .filter(overflow_at__lte=now, status=TaskStatus.WAITING)
                .order_by("overflow_at", "pk")[:batch]
            )
            targets = Queue.objects.in_bulk(
                {t.queue.overflow_queue_id for t in due if t.queue.overflow_queue_id}
            )
            taken = set(
                Task.objects.filter(
                    conversation_id__in={t.conversation_id for t in due},
                    queue_id__in=list(targets),
                    status__in=ACTIVE_TASK_STATUSES,
                ).values_list("conversation_id", "queue_id")
            )
            stay: list[int] = []
            moves: dict[int, list[Task]] = defaultdict(list)
            for task in due:
                target = targets.get(task.queue.overflow_queue_id)
                if target is None or (task.conversation_id, target.pk) in taken:
                    stay.append(task.pk)
                    continue
                # Two due tasks of one conversation cannot both enter the same queue.
                taken.add((task.conversation_id, target.pk))
                moves[target.pk].append(task)
            Task.objects.filter(pk__in=stay).update(overflow_at=None)
            emissions = []
            for target_id, tasks in moves.items():
                target = targets[target_id]
                Task.objects.filter(pk__in=[t.pk for t in tasks]).update(
                    queue=target,
                    queue_entered_at=now,
                    overflow_at=(
                        now + timedelta(seconds=target.max_time_in_queue_seconds)
                        if target.max_time_in_queue_seconds
                        else None
                    ),
                )
                emissions += [
                    events.Emission(
                        task_id=task.pk,
                        tenant_id=task.tenant_id,
                        conversation_id=task.conversation_id,
                        kind=TaskEventKind.OVERFLOWED,
                        queue_id=target.pk,
                        data={"from_queue": task.queue.name, "to_queue": target.name},
                    )
                    for task in tasks
                ]
            events.emit(emissions)
            routed = set(moves)
            transaction.on_commit(lambda: _route_queues_later(routed))
        total += len(due)
        if len(due) < batch:
            return total
