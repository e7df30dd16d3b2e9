"""Agent states: signed out, available, idle (with an idle code), RONA; every change recorded."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from config.broker import enqueue
from routing.errors import RoutingError
from routing.models import AgentState, AgentStateChange, AgentStatus, Offer, OfferStatus
from routing.services.skills import agent_skills_refresh
from tenants.models import Agent, IdleCode
from tenants.realtime import Push, agent_group, send_events_on_commit, tenant_group

MEDIA = ("chat", "email", "social")
SETTABLE_STATES = (AgentStatus.SIGNED_OUT, AgentStatus.AVAILABLE, AgentStatus.IDLE)


def agent_state_ensure(*, agent: Agent, lock: bool = False) -> AgentState:
    """The agent's state row, created signed out on first use."""
    manager = AgentState.objects.select_for_update() if lock else AgentState.objects
    state = manager.filter(pk=agent.pk).first()
    if state is None:
        profile = agent.multimedia_profile
        AgentState.objects.get_or_create(
            agent=agent,
            defaults={
                "tenant_id": agent.tenant_id,
                "team_id": agent.team_id,
                "max_chat": profile.max_chat,
                "max_email": profile.max_email,
                "max_social": profile.max_social,
                "blending": profile.blending,
            },
        )
        state = manager.get(pk=agent.pk)
    return state


def _refresh_from_agent(state: AgentState, agent: Agent) -> None:
    """Copies team and multimedia profile onto the state row without breaking its constraints."""
    profile = agent.multimedia_profile
    state.team_id = agent.team_id
    for media in MEDIA:
        # A lowered maximum takes effect as contacts end; never below what is engaged now.
        setattr(state, f"max_{media}", max(profile.max_for(media), state.engaged(media)))
    busy_media = sum(1 for media in MEDIA if state.engaged(media) > 0)
    if profile.blending == "blended" or busy_media <= 1:
        state.blending = profile.blending


def agent_state_push(state: AgentState) -> Push:
    return Push(
        [agent_group(state.agent_id), tenant_group(state.tenant_id)],
        "routing.agent_state",
        {
            "agent_id": state.agent_id,
            "state": state.state,
            "idle_code_id": state.idle_code_id,
            "state_since": state.state_since.isoformat(),
            "engaged": {m: state.engaged(m) for m in MEDIA},
            "maximum": {m: state.maximum(m) for m in MEDIA},
        },
    )


def publish_agent_state(state: AgentState) -> None:
    publish_agent_states([state])


def publish_agent_states(states: list[AgentState]) -> None:
    """Announces agents' states after commit, all of them over one channel-layer connection."""
    send_events_on_commit([agent_state_push(s) for s in states])


def agent_state_set(
    *, agent: Agent, state: str, idle_code: IdleCode | None = None, reason: str = "agent"
) -> AgentState:
    """Moves the agent to signed out, available or idle (RONA is the router's to set).

    Leaving available withdraws the agent's pending offers; their tasks keep their place in line.
    Setting the state the agent is already in changes nothing.
    """
    if state == AgentStatus.RONA:
        raise RoutingError(
            "RONA is set by the router when an offer goes unanswered; choose another state."
        )
    if state not in SETTABLE_STATES:
        raise ValidationError(
            {"state": f"Unknown state {state!r}; use one of {', '.join(SETTABLE_STATES)}."}
        )
    if state == AgentStatus.IDLE:
        if idle_code is None:
            raise ValidationError({"idle_code": "Going idle needs an idle code."})
        if idle_code.tenant_id != agent.tenant_id:
            raise ValidationError({"idle_code": "No such idle code in this tenant."})
    elif idle_code is not None:
        raise ValidationError({"idle_code": "Only the idle state takes an idle code."})

    for _ in range(5):
        try:
            return _agent_state_set(agent=agent, state=state, idle_code=idle_code, reason=reason)
        except _Retry:
            continue
    raise RoutingError("Your state is changing elsewhere; try again.", code="busy")


class _Retry(Exception):
    pass


@transaction.atomic
def _agent_state_set(
    *, agent: Agent, state: str, idle_code: IdleCode | None, reason: str
) -> AgentState:
    from routing.services.tasks import offers_end  # the offer life cycle lives with tasks

    pending = []
    if state != AgentStatus.AVAILABLE:
        pending = list(
            Offer.objects.select_for_update()
            .filter(agent=agent, status=OfferStatus.PENDING)
            .order_by("pk")
        )
        if pending:
            offers_end(offers=pending, outcome=OfferStatus.WITHDRAWN)
    row = agent_state_ensure(agent=agent, lock=True)
    if (
        state != AgentStatus.AVAILABLE
        and Offer.objects.filter(agent=agent, status=OfferStatus.PENDING).exists()
    ):
        raise _Retry  # a router committed an offer after we looked; look again
    idle_code_id = idle_code.pk if idle_code else None
    if row.state == state and row.idle_code_id == idle_code_id:
        return row
    now = timezone.now()
    previous = row.state
    row.state = state
    row.idle_code_id = idle_code_id
    row.state_since = now
    if state == AgentStatus.AVAILABLE:
        row.available_since = now
    _refresh_from_agent(row, agent)
    row.save()
    AgentStateChange.objects.create(
        tenant_id=agent.tenant_id,
        agent=agent,
        state=state,
        previous_state=previous,
        idle_code_id=idle_code_id,
        reason=reason,
        at=now,
    )
    publish_agent_state(row)
    if state == AgentStatus.AVAILABLE:
        agent_skills_refresh(agent_ids=[agent.pk])
        agent_id = agent.pk
        transaction.on_commit(lambda: _route_for_agent_later(agent_id))
    return row


def _route_for_agent_later(agent_id: int) -> None:
    from routing.tasks import route_for_agent

    enqueue(route_for_agent, agent_id)
