"""Reads of routing, always scoped to a tenant or an agent."""

from typing import Any

from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet
from django.utils import timezone

from channels_app.models import ChannelAsset
from routing.models import (
    ACTIVE_TASK_STATUSES,
    AgentSkill,
    AgentState,
    AgentStateChange,
    AgentStatus,
    EntryPoint,
    Offer,
    OfferStatus,
    Queue,
    Task,
    TaskEvent,
    TaskStatus,
    room_q,
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
    """Waiting and offered counts and the oldest waiting contact per queue (care console).

    Counted from the tenant's own active tasks only (the task_tenant_status index), so another
    tenant's line never costs this one anything."""
    now = timezone.now()
    counts: dict[int, dict[str, Any]] = {}
    for queue_id, status, n, oldest in (
        Task.objects.filter(tenant=tenant, status__in=ACTIVE_TASK_STATUSES)
        .order_by()
        .values_list("queue_id", "status")
        .annotate(n=Count("*"), oldest=Min("enqueued_at"))
    ):
        row = counts.setdefault(queue_id, {"oldest": oldest})
        row[status] = n
        row["oldest"] = min(row["oldest"], oldest)
    stats = []
    for queue in Queue.objects.filter(tenant=tenant).order_by("name").only("id", "name"):
        row = counts.get(queue.pk, {})
        oldest = row.get("oldest")
        stats.append(
            {
                "queue_id": queue.pk,
                "name": queue.name,
                "waiting": row.get(TaskStatus.WAITING, 0),
                "offered": row.get(TaskStatus.OFFERED, 0),
                "longest_wait_seconds": int((now - oldest).total_seconds()) if oldest else 0,
            }
        )
    return stats


def agent_states_list(*, tenant: Tenant) -> QuerySet[AgentState]:
    return (
        AgentState.objects.filter(tenant=tenant)
        .select_related("agent", "idle_code")
        .order_by("agent_id")
    )


def asset_routing_warnings(asset: ChannelAsset) -> list[str]:
    """Why messages of this asset would not run a flow, and where they go instead."""
    from routing.flows.selectors import flow_version_current

    entry_point = EntryPoint.objects.filter(asset=asset).select_related("flow").first()
    if entry_point is None:
        why = "This asset has no entry point"
    elif entry_point.flow is None:
        why = f"Entry point {entry_point.name} has no flow"
    elif flow_version_current(flow=entry_point.flow) is None:
        why = f"Flow {entry_point.flow.name} of entry point {entry_point.name} has no published version"
    else:
        return []
    queue = queue_default(tenant=asset.tenant)
    if queue is None:
        return [
            f"{why}, and the tenant has no default queue: its messages are stored but never "
            "queued. Add an entry point with a published flow, or mark a queue as the default."
        ]
    if queue.channel_type != asset.media_type:
        return [
            f"{why}, and the default queue {queue.name} takes {queue.channel_type} contacts, not "
            f"{asset.media_type}: its messages are stored but never queued."
        ]
    return [f"{why}: its messages skip the flows and wait in the default queue {queue.name}."]


def assets_without_flow_count() -> int:
    """Channel assets (all tenants) whose new contacts cannot run an entry point flow."""
    from routing.flows.models import FlowVersion

    published = FlowVersion.objects.filter(
        flow_id=OuterRef("entry_point__flow_id"), status=FlowVersion.Status.PUBLISHED
    )
    return (
        ChannelAsset.objects.filter(
            Q(entry_point__isnull=True) | Q(entry_point__flow__isnull=True) | ~Exists(published)
        )
        .distinct()
        .count()
    )


def conversation_timeline(*, conversation_id: int) -> QuerySet[TaskEvent]:
    """Every routing event of every task of the conversation, oldest first (care console)."""
    return (
        TaskEvent.objects.filter(task__conversation_id=conversation_id)
        .select_related("agent", "queue", "task__queue")
        .order_by("at", "id")
    )


def chat_asset_staffed(*, asset: ChannelAsset) -> bool:
    """What the router sees for a new chat: an agent is Available, with room for one more chat,
    in a team of one of the tenant's chat queues. One probe of the partial room index."""
    team_ids = list(
        Queue.teams.through.objects.filter(
            queue__tenant_id=asset.tenant_id, queue__channel_type="chat"
        ).values_list("team_id", flat=True)
    )
    if not team_ids:
        return False
    return (
        AgentState.objects.filter(
            tenant_id=asset.tenant_id, state=AgentStatus.AVAILABLE, team_id__in=team_ids
        )
        .filter(room_q("chat"))
        .order_by("available_since")
        .values_list("pk", flat=True)
        .first()
        is not None
    )
