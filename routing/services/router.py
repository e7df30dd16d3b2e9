"""The router: pairs waiting tasks with eligible agents and creates offers.

Eligible agents are available, have room for the task's channel type (blended or exclusive), are on
a team the queue serves and meet the task's current requirements; the best skill match (skills-based
queues) and then the longest available goes first. Everything is decided by indexed SQL; rows are
claimed with select_for_update(skip_locked=True), so any number of routers can work one queue.

Tasks are routed in batches of the same requirements (one signature): the tasks and the agents for
one batch are locked in two queries and paired in order.

Queue order (priority, then time enqueued) is exact for one router. With several routers at once
it holds up to the batches in flight at that instant: a router skips rows another has locked, so a
later task can take the last free agent while an earlier one is locked elsewhere; the earlier one
stays at the head and goes to the next free agent.
"""

import logging
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from routing import events
from routing.models import (
    AgentSkill,
    AgentState,
    AgentStatus,
    Offer,
    OfferStatus,
    Queue,
    RoutingType,
    SkillType,
    Task,
    TaskEventKind,
    TaskStatus,
    room_q,
)
from routing.services.skills import COLUMN_BY_TYPE
from routing.services.tasks import offer_accept, offer_payloads, rona_seconds
from tenants.models import Agent, TenantPolicy

logger = logging.getLogger(__name__)

BATCH_SIZE = 25
# An agent who declined or missed a task is not offered that same task again for this long.
REOFFER_PAUSE_SECONDS = 30


def requirement_q(requirement: dict[str, Any]) -> Q:
    """A requirement as an EXISTS over the agents' effective skill rows.

    A missing skill never meets >=, =, in or "is true"; it meets != and "is false".
    """
    column = COLUMN_BY_TYPE[requirement["type"]]
    rows = AgentSkill.objects.filter(
        agent_id=OuterRef("agent_id"), skill_id=requirement["skill_id"]
    )
    operator, value = requirement["operator"], requirement["value"]
    if requirement["type"] == SkillType.BOOLEAN:
        has_true = Exists(rows.filter(bool_value=True))
        return Q(has_true) if value else ~Q(has_true)
    if operator == ">=":
        return Q(Exists(rows.filter(**{f"{column}__gte": value})))
    if operator == "=":
        return Q(Exists(rows.filter(**{column: value})))
    if operator == "!=":
        return ~Q(Exists(rows.filter(**{column: value})))
    if operator == "in":
        return Q(Exists(rows.filter(**{f"{column}__in": value})))
    raise ValueError(f"unknown operator {operator!r}")


def eligible_agents(
    *, queue: Queue, team_ids: list[int], channel_type: str, requirements: list[dict]
) -> QuerySet[AgentState]:
    """Eligible agents' state rows, best first."""
    agents = AgentState.objects.filter(
        tenant_id=queue.tenant_id, state=AgentStatus.AVAILABLE, team_id__in=team_ids
    ).filter(room_q(channel_type))
    for requirement in requirements:
        agents = agents.filter(requirement_q(requirement))
    scored = [r["skill_id"] for r in requirements if r["type"] == SkillType.PROFICIENCY]
    if queue.routing_type == RoutingType.SKILLS_BASED and scored:
        score = (
            AgentSkill.objects.filter(agent_id=OuterRef("agent_id"), skill_id__in=scored)
            .values("agent_id")
            .annotate(total=Sum("int_value"))
            .values("total")
        )
        agents = agents.annotate(
            score=Coalesce(Subquery(score, output_field=IntegerField()), Value(0))
        )
        return agents.order_by("-score", "available_since", "agent_id")
    return agents.order_by("available_since", "agent_id")


def _with_waiting(queue_ids: list[int]) -> list[int]:
    """The queues that have a waiting task: one LIMIT 1 probe of the partial index per queue.

    Asked per queue on purpose: as one EXISTS over all queues the planner may turn it into a
    semi-join that reads every waiting task. Asked for the head in queue order so the plan is the
    index task_waiting_order: unordered, a queue whose tasks are most of the table gets a
    sequential scan, which is quick only while the waiting rows happen to come first."""
    return [q for q in queue_ids if _waiting(q).values_list("pk", flat=True).first() is not None]


def _waiting(queue_id: int) -> QuerySet[Task]:
    return Task.objects.filter(queue_id=queue_id, status=TaskStatus.WAITING).order_by(
        "priority", "enqueued_at", "id"
    )


# The first waiting task of each signature, found with a "loose index scan" over the partial index
# task_waiting_signature_order: each step of the recursion jumps to the next signature with one
# index probe, so the cost grows with the number of signatures, never with the tasks waiting.
HEADS_SQL = """
WITH RECURSIVE keys(k) AS (
    (SELECT requirements_key FROM routing_task
      WHERE queue_id = %(queue)s AND status = 'waiting'
      ORDER BY requirements_key LIMIT 1)
    UNION ALL
    SELECT (SELECT t.requirements_key FROM routing_task t
             WHERE t.queue_id = %(queue)s AND t.status = 'waiting' AND t.requirements_key > keys.k
             ORDER BY t.requirements_key LIMIT 1)
      FROM keys WHERE keys.k IS NOT NULL
)
SELECT h.id, h.priority, h.enqueued_at, h.requirements_key
  FROM keys CROSS JOIN LATERAL (
    SELECT t.id, t.priority, t.enqueued_at, t.requirements_key FROM routing_task t
     WHERE t.queue_id = %(queue)s AND t.status = 'waiting' AND t.requirements_key = keys.k
     ORDER BY t.priority, t.enqueued_at, t.id LIMIT 1
  ) h
 WHERE keys.k IS NOT NULL
"""


def _heads(queue_id: int) -> list[Task]:
    """The first waiting task of each requirement signature, in queue order."""
    if connection.vendor == "postgresql":
        heads = list(Task.objects.raw(HEADS_SQL, {"queue": queue_id}))
    else:
        heads = _heads_portable(queue_id)
    return sorted(heads, key=lambda t: (t.priority, t.enqueued_at, t.pk))


def _heads_portable(queue_id: int) -> list[Task]:
    """The same with the ORM (the embedded SQLite setup): one DISTINCT, then one probe a signature."""
    keys = list(
        Task.objects.filter(queue_id=queue_id, status=TaskStatus.WAITING)
        .order_by()
        .values_list("requirements_key", flat=True)
        .distinct()
    )
    return [
        t
        for t in (
            _waiting(queue_id)
            .filter(requirements_key=k)
            .only("id", "priority", "enqueued_at", "requirements_key")
            .first()
            for k in keys
        )
        if t is not None
    ]


def _before(task: Task) -> Q:
    """Tasks ahead of `task` in queue order."""
    return (
        Q(priority__lt=task.priority)
        | Q(priority=task.priority, enqueued_at__lt=task.enqueued_at)
        | Q(priority=task.priority, enqueued_at=task.enqueued_at, id__lt=task.pk)
    )


def _assign_batch(
    *,
    queue: Queue,
    team_ids: list[int],
    key: str,
    stop_before: Task | None,
    batch_size: int,
    policy: TenantPolicy | None = None,
) -> tuple[int, bool]:
    """Offers up to batch_size tasks of one signature. Returns (offers made, agents ran out).

    policy: the tenant's policy when the caller has it (else it is read for the RONA timeout)."""
    with transaction.atomic():
        tasks_qs = _waiting(queue.pk).filter(requirements_key=key)
        if stop_before is not None:
            tasks_qs = tasks_qs.filter(_before(stop_before))
        tasks = list(tasks_qs.select_for_update(skip_locked=True)[:batch_size])
        if not tasks:
            return 0, False
        channel_type = tasks[0].channel_type
        now = timezone.now()
        paused: dict[int, set[int]] = {}
        for task_id, agent_id in Offer.objects.filter(
            task_id__in=[t.pk for t in tasks],
            decided_at__gte=now - timedelta(seconds=REOFFER_PAUSE_SECONDS),
            status__in=[OfferStatus.DECLINED, OfferStatus.EXPIRED],
        ).values_list("task_id", "agent_id"):
            paused.setdefault(task_id, set()).add(agent_id)
        extra = len({a for s in paused.values() for a in s})
        candidates = list(
            eligible_agents(
                queue=queue,
                team_ids=team_ids,
                channel_type=channel_type,
                requirements=tasks[0].current_requirements,
            )
            .select_for_update(skip_locked=True, of=("self",))
            .only("agent_id", "tenant_id", "available_since")[: len(tasks) + extra]
        )
        pairs: list[tuple[Task, AgentState]] = []
        for task in tasks:
            for i, agent in enumerate(candidates):
                if agent.agent_id not in paused.get(task.pk, ()):
                    pairs.append((task, candidates.pop(i)))
                    break
        if not pairs:
            return 0, True
        rona = (
            policy.rona_seconds(channel_type)
            if policy is not None
            else rona_seconds(tenant_id=queue.tenant_id, channel_type=channel_type)
        )
        expires_at = now + timedelta(seconds=rona)
        offers = Offer.objects.bulk_create(
            [
                Offer(
                    tenant_id=queue.tenant_id,
                    task_id=task.pk,
                    agent_id=agent.agent_id,
                    channel_type=channel_type,
                    created_at=now,
                    expires_at=expires_at,
                )
                for task, agent in pairs
            ]
        )
        Task.objects.filter(pk__in=[t.pk for t, _ in pairs], status=TaskStatus.WAITING).update(
            status=TaskStatus.OFFERED
        )
        AgentState.objects.filter(pk__in=[a.pk for _, a in pairs]).update(
            **{f"engaged_{channel_type}": F(f"engaged_{channel_type}") + 1, "available_since": now}
        )
        for task, _ in pairs:
            task.queue = queue
        payloads = offer_payloads(offers, tasks=[task for task, _ in pairs])
        events.emit(
            [
                events.Emission(
                    task_id=task.pk,
                    tenant_id=task.tenant_id,
                    conversation_id=task.conversation_id,
                    kind=TaskEventKind.OFFERED,
                    agent_id=agent.agent_id,
                    offer_id=offer.pk,
                    queue_id=queue.pk,
                    data={"expires_at": expires_at.isoformat()},
                    push=payloads[offer.pk],
                )
                for (task, agent), offer in zip(pairs, offers, strict=True)
            ]
        )
        if queue.auto_accept_allowed:
            _auto_accept(queue=queue, offers=offers)
        return len(pairs), len(pairs) < len(tasks)


def _auto_accept(*, queue: Queue, offers: list[Offer]) -> None:
    """Offers to agents who opted in to auto-accept for this queue are accepted at once, in the
    transaction that made them: capacity was taken with the offer, so nothing else changes."""
    from routing.services.desktop import agents_auto_accepting

    chosen = agents_auto_accepting(queue=queue, agent_ids=[o.agent_id for o in offers])
    if not chosen:
        return
    agents = {a.pk: a for a in Agent.objects.filter(pk__in=chosen)}
    for offer in offers:
        if offer.agent_id in agents:
            offer_accept(offer_id=offer.pk, agent=agents[offer.agent_id], auto=True)


def _any_room(*, queue: Queue, team_ids: list[int]) -> bool:
    """Whether an agent of the queue's teams is available with room: one probe of the partial
    index agentstate_room_<type>, which holds only such agents. Asked in index order on purpose:
    the planner cannot estimate "engaged < maximum" and, unordered, may read every agent state."""
    return (
        AgentState.objects.filter(
            tenant_id=queue.tenant_id, state=AgentStatus.AVAILABLE, team_id__in=team_ids
        )
        .filter(room_q(queue.channel_type))
        .order_by("available_since")
        .values_list("pk", flat=True)
        .first()
        is not None
    )


def route_queue(*, queue_id: int, limit: int | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Offers waiting tasks of the queue to eligible agents until either runs out. Returns offers made."""
    # The tenant's policy comes along: it gives the offers' RONA timeout.
    queue = Queue.objects.select_related("tenant__policy").filter(pk=queue_id).first()
    if queue is None:
        return 0
    try:
        policy = queue.tenant.policy
    except TenantPolicy.DoesNotExist:
        policy = TenantPolicy()
    team_ids = list(queue.teams.values_list("id", flat=True))
    if not team_ids:
        return 0
    made = 0
    while limit is None or made < limit:
        if not _any_room(queue=queue, team_ids=team_ids):
            break
        heads = _heads(queue.pk)
        progressed = False
        for i, head in enumerate(heads):
            # Only tasks ahead of every other signature's head, so queue order holds across signatures.
            stop_before = min(
                heads[i + 1 :], key=lambda t: (t.priority, t.enqueued_at, t.pk), default=None
            )
            size = batch_size if limit is None else min(batch_size, limit - made)
            count, exhausted = _assign_batch(
                queue=queue,
                team_ids=team_ids,
                key=head.requirements_key,
                stop_before=stop_before,
                batch_size=size,
                policy=policy,
            )
            made += count
            if count:
                progressed = True
                if len(heads) == 1 and count < size and not exhausted:
                    # The only signature had fewer tasks than the batch took, and each got an
                    # agent: the queue was drained. A task queued since routes the queue itself.
                    return made
                break  # heads changed: recompute them
            if not exhausted:
                continue
        if not progressed:
            break
    return made


def route_for_agent(*, agent_id: int) -> int:
    """Runs the router for the queues that serve an agent who became available or freed capacity."""
    state = AgentState.objects.filter(pk=agent_id, state=AgentStatus.AVAILABLE).first()
    if state is None:
        return 0
    queue_ids = _with_waiting(
        list(Queue.objects.filter(teams=state.team_id).order_by("pk").values_list("pk", flat=True))
    )
    return sum(route_queue(queue_id=q) for q in queue_ids)


def route_waiting_queues(*, limit_per_queue: int = 200) -> int:
    """The safety net the sweep runs: every queue with waiting tasks gets a routing pass. The pass
    is bounded so a sweep stays short and the next expiry is not held up; the rest follows in the
    next sweep or in the routing runs the offers' events trigger."""
    queue_ids = _with_waiting(list(Queue.objects.order_by("pk").values_list("pk", flat=True)))
    return sum(route_queue(queue_id=q, limit=limit_per_queue) for q in queue_ids)
