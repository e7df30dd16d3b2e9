"""Reads of routing, always scoped to a tenant or an agent."""

from typing import Any

from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from routing.models import (
    ACTIVE_TASK_STATUSES,
    AgentSkill,
    AgentState,
    AgentStateChange,
    AgentStatus,
    Offer,
    OfferStatus,
    Queue,
    Task,
    TaskEvent,
    TaskStatus,
)
from tenants.models import Agent, Tenant


def queue_default(*, tenant: Tenant) -> Queue | None:
    return Queue.objects.filter(tenant=tenant, default=True).first()


def agent_state_get(*, agent: Agent) -> AgentState:
    """The agent's state; an unsaved signed-out state if the agent never changed state."""
    state = AgentState.objects.filter(pk=agent.pk).select_related("idle_code").first()
    if state is None:
        profile = agent.multimedia_profile
        state = AgentState(
            agent=agent,
            tenant_id=agent.tenant_id,
            team_id=agent.team_id,
            state=AgentStatus.SIGNED_OUT,
            max_chat=profile.max_chat,
            max_email=profile.max_email,
            max_social=profile.max_social,
            blending=profile.blending,
        )
    return state


def agent_pending_offers(*, agent: Agent) -> QuerySet[Offer]:
    return (
        Offer.objects.filter(agent=agent, status=OfferStatus.PENDING, expires_at__gt=timezone.now())
        .select_related("task__queue", "task__conversation__customer")
        .order_by("created_at", "pk")
    )


def agent_state_history(*, agent: Agent, limit: int = 100) -> QuerySet[AgentStateChange]:
    return AgentStateChange.objects.filter(agent=agent).order_by("-at", "-id")[:limit]


def agent_effective_skills(*, agent: Agent) -> QuerySet[AgentSkill]:
    return AgentSkill.objects.filter(agent=agent).select_related("skill").order_by("skill__name")


def task_timeline(*, task: Task) -> QuerySet[TaskEvent]:
    return TaskEvent.objects.filter(task=task).select_related("agent", "queue").order_by("at", "id")


def conversation_active_task(*, conversation_id: int) -> Task | None:
    return (
        Task.objects.filter(conversation_id=conversation_id)
        .exclude(status=TaskStatus.CLOSED)
        .order_by("-enqueued_at")
        .first()
    )


def queue_stats(*, tenant: Tenant) -> list[dict[str, Any]]:
    """Waiting and offered counts and the oldest waiting contact per queue (care console)."""
    now = timezone.now()
    rows = (
        Queue.objects.filter(tenant=tenant)
        .annotate(
            waiting=Count("tasks", filter=Q(tasks__status=TaskStatus.WAITING)),
            offered=Count("tasks", filter=Q(tasks__status=TaskStatus.OFFERED)),
            oldest=Min("tasks__enqueued_at", filter=Q(tasks__status__in=ACTIVE_TASK_STATUSES)),
        )
        .order_by("name")
    )
    return [
        {
            "queue_id": q.pk,
            "name": q.name,
            "waiting": q.waiting,
            "offered": q.offered,
            "longest_wait_seconds": int((now - q.oldest).total_seconds()) if q.oldest else 0,
        }
        for q in rows
    ]


def agent_states_list(*, tenant: Tenant) -> QuerySet[AgentState]:
    return (
        AgentState.objects.filter(tenant=tenant)
        .select_related("agent", "idle_code")
        .order_by("agent_id")
    )


def conversation_timeline(*, conversation_id: int) -> QuerySet[TaskEvent]:
    """Every routing event of every task of the conversation, oldest first (care console)."""
    return (
        TaskEvent.objects.filter(task__conversation_id=conversation_id)
        .select_related("agent", "queue", "task__queue")
        .order_by("at", "id")
    )
