"""What an agent does from the desktop beyond offers: preferences, internal notes, handing a
conversation to a colleague or a queue."""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from channels_app.models import Conversation
from routing import events
from routing.models import (
    AgentPreference,
    AgentState,
    AgentStatus,
    ConversationNote,
    Offer,
    Queue,
    Task,
    TaskEventKind,
    TaskStatus,
    room_q,
)
from routing.services.tasks import offer_payloads, rona_seconds, task_close, task_enqueue
from routing.services.transfer import _assigned_task, _tell, conversation_transfer_to_queue
from tenants.models import Agent
from tenants.realtime import send_event_on_commit, watcher_groups

NOTE_MAX = 4000


# --- Preferences ----------------------------------------------------------------------------


def agent_preference_get(*, agent: Agent) -> AgentPreference:
    """The agent's preferences (unsaved defaults when they never chose)."""
    found = AgentPreference.objects.filter(agent_id=agent.pk).first()
    return found or AgentPreference(agent=agent, tenant_id=agent.tenant_id)


def auto_accept_queues_for(*, agent: Agent):
    """The queues an agent may opt in to: their team's queues that allow auto-accept."""
    return Queue.objects.filter(
        tenant_id=agent.tenant_id, teams=agent.team_id, auto_accept_allowed=True
    ).order_by("name", "pk")


@transaction.atomic
def agent_preference_set(
    *, agent: Agent, sound_muted: bool | None = None, auto_accept_queue_ids: list | None = None
) -> AgentPreference:
    """Changes what is given; auto-accept only for queues of the agent's team that allow it."""
    if sound_muted is not None and not isinstance(sound_muted, bool):
        raise ValidationError({"sound_muted": "'sound_muted' is true or false"})
    queues: list[Queue] | None = None
    if auto_accept_queue_ids is not None:
        if not isinstance(auto_accept_queue_ids, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in auto_accept_queue_ids
        ):
            raise ValidationError({"auto_accept_queue_ids": "a list of queue ids"})
        wanted = set(auto_accept_queue_ids)
        queues = list(auto_accept_queues_for(agent=agent).filter(pk__in=wanted))
        missing = wanted - {q.pk for q in queues}
        if missing:
            raise ValidationError(
                {
                    "auto_accept_queue_ids": "Auto-accept is only for your team's queues that "
                    f"allow it; not for {', '.join(map(str, sorted(missing)))}."
                }
            )
    preference, _ = AgentPreference.objects.select_for_update().get_or_create(
        agent=agent, defaults={"tenant_id": agent.tenant_id}
    )
    if sound_muted is not None:
        preference.sound_muted = sound_muted
    preference.updated_at = timezone.now()
    preference.save(update_fields=["sound_muted", "updated_at"])
    if queues is not None:
        preference.auto_accept_queues.set(queues)
    return preference


def agents_auto_accepting(*, queue: Queue, agent_ids: list[int]) -> set[int]:
    """Which of these agents accept the queue's offers automatically (none unless it allows it)."""
    if not queue.auto_accept_allowed or not agent_ids:
        return set()
    return set(
        AgentPreference.objects.filter(
            agent_id__in=agent_ids, auto_accept_queues=queue, agent__team__queues=queue
        ).values_list("agent_id", flat=True)
    )


# --- Internal notes ---------------------------------------------------------------------------


def conversation_note_add(
    *, conversation: Conversation, agent: Agent, text: str
) -> ConversationNote:
    """A note for colleagues and supervisors; it is stored, shown, and never sent to a provider."""
    if conversation.tenant_id != agent.tenant_id:
        raise ValidationError("No such conversation.")
    if not isinstance(text, str) or not text.strip():
        raise ValidationError({"text": "a note needs some text"})
    if len(text) > NOTE_MAX:
        raise ValidationError({"text": f"a note is at most {NOTE_MAX} characters"})
    note = ConversationNote.objects.create(
        tenant_id=conversation.tenant_id,
        conversation=conversation,
        author=agent,
        author_name=str(agent)[:160],
        text=text.strip(),
    )
    send_event_on_commit(
        groups=watcher_groups(tenant_id=conversation.tenant_id, agent_id=conversation.owner_id),
        event="conversation.note",
        payload={
            "conversation_id": conversation.pk,
            "note_id": note.pk,
            "author_name": note.author_name,
        },
    )
    return note


# --- Transfer -----------------------------------------------------------------------------------


def _owned_open(*, conversation: Conversation, agent: Agent) -> None:
    if conversation.tenant_id != agent.tenant_id or conversation.owner_id != agent.pk:
        raise ValidationError("No such conversation.")
    if conversation.status != Conversation.Status.OPEN:
        raise ValidationError("The conversation is closed; it cannot be transferred.")


def conversation_transfer_by_agent_to_queue(
    *, conversation: Conversation, agent: Agent, queue: Queue
) -> Task:
    """The owner puts the conversation back in line in one of the tenant's queues."""
    _owned_open(conversation=conversation, agent=agent)
    return conversation_transfer_to_queue(conversation=conversation, queue=queue, by=agent.user)


@transaction.atomic
def conversation_transfer_by_agent_to_agent(
    *, conversation: Conversation, agent: Agent, to_agent: Agent
) -> Offer:
    """The owner hands the conversation to a colleague who is available with room: the current
    task ends, a new one enters the same queue (priority and variables kept) and is offered to the
    colleague at once. If they decline or do not answer, it waits in that queue like any task."""
    _owned_open(conversation=conversation, agent=agent)
    if to_agent.tenant_id != agent.tenant_id:
        raise ValidationError({"to_agent_id": "No such agent in this tenant."})
    if to_agent.pk == agent.pk:
        raise ValidationError({"to_agent_id": "The conversation is already with you."})
    current = _assigned_task(conversation)
    media = current.channel_type
    # Both agents' rows, in id order as everywhere, before either changes: two agents handing
    # conversations to each other at the same moment wait in turn instead of deadlocking.
    locked = {
        s.pk: s
        for s in AgentState.objects.select_for_update()
        .filter(pk__in=sorted({agent.pk, to_agent.pk}))
        .order_by("pk")
    }
    target = locked.get(to_agent.pk)
    if target is None or target.state != AgentStatus.AVAILABLE:
        raise ValidationError({"to_agent_id": f"{to_agent} is not available."})
    if not AgentState.objects.filter(pk=to_agent.pk).filter(room_q(media)).exists():
        raise ValidationError({"to_agent_id": f"{to_agent} has no free {media} capacity."})
    queue = current.queue
    task_close(task=current, reason="transferred")
    Conversation.objects.filter(pk=conversation.pk).update(owner=None)
    conversation.owner = None
    task = task_enqueue(
        conversation=conversation,
        queue=queue,
        priority=current.priority,
        variables=current.variables,
    )
    now = timezone.now()
    try:
        with transaction.atomic():
            AgentState.objects.filter(pk=to_agent.pk).update(
                **{f"engaged_{media}": F(f"engaged_{media}") + 1}
            )
    except IntegrityError:
        raise ValidationError(
            {"to_agent_id": f"{to_agent} has no free {media} capacity."}
        ) from None
    expires_at = now + timedelta(seconds=rona_seconds(tenant_id=task.tenant_id, channel_type=media))
    offer = Offer.objects.create(
        tenant_id=task.tenant_id,
        task=task,
        agent=to_agent,
        channel_type=media,
        created_at=now,
        expires_at=expires_at,
    )
    Task.objects.filter(pk=task.pk, status=TaskStatus.WAITING).update(status=TaskStatus.OFFERED)
    task.status = TaskStatus.OFFERED
    payload = offer_payloads([offer], tasks=[task])[offer.pk]
    payload["transferred_by"] = str(agent)
    events.emit(
        [
            events.Emission(
                task_id=task.pk,
                tenant_id=task.tenant_id,
                conversation_id=conversation.pk,
                kind=TaskEventKind.TRANSFERRED,
                agent_id=to_agent.pk,
                queue_id=queue.pk,
                data={
                    "from_agent_id": agent.pk,
                    "to_agent_id": to_agent.pk,
                    "by": agent.user.email,
                    "by_name": str(agent),
                    "previous_task_id": current.pk,
                },
            ),
            events.Emission(
                task_id=task.pk,
                tenant_id=task.tenant_id,
                conversation_id=conversation.pk,
                kind=TaskEventKind.OFFERED,
                agent_id=to_agent.pk,
                offer_id=offer.pk,
                queue_id=queue.pk,
                data={"expires_at": expires_at.isoformat(), "transfer": True},
                push=payload,
            ),
        ]
    )
    _tell(
        agent_ids=[agent.pk],
        conversation=conversation,
        to_agent_id=to_agent.pk,
        text=f"The conversation with {conversation.customer} is offered to {to_agent}.",
    )
    return offer
