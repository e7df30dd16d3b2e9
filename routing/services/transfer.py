"""Transfers: a supervisor takes a conversation over or moves it to another agent or queue (from
the care console). The agents concerned are told on their desktops."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F

from channels_app.models import Conversation
from routing import events
from routing.models import AgentState, Queue, Task, TaskEventKind, TaskStatus
from routing.services.agents import agent_state_ensure
from routing.services.tasks import task_close, task_enqueue
from tenants.models import Agent, User
from tenants.realtime import agent_group, send_event_on_commit


def _tell(*, agent_ids: list[int], conversation: Conversation, to_agent_id: int | None, text: str):
    for agent_id in agent_ids:
        send_event_on_commit(
            groups=[agent_group(agent_id)],
            event="conversation.transferred",
            payload={
                "agent_id": agent_id,
                "conversation_id": conversation.pk,
                "to_agent_id": to_agent_id,
                "message": text,
            },
        )


def _assigned_task(conversation: Conversation) -> Task:
    task = (
        Task.objects.select_for_update()
        .filter(conversation=conversation, status=TaskStatus.ASSIGNED)
        .order_by("-assigned_at")
        .first()
    )
    if task is None or conversation.status != Conversation.Status.OPEN:
        raise ValidationError(
            "Only an open conversation that an agent has accepted can move to another agent; "
            "move a waiting one to another queue."
        )
    return task


@transaction.atomic
def conversation_transfer_to_agent(
    *, conversation: Conversation, agent: Agent, by: User, takeover: bool = False
) -> Conversation:
    """Moves an accepted conversation to agent: their capacity is taken, the previous owner's given
    back. Refused when the agent has no free capacity for the conversation's media type."""
    if agent.tenant_id != conversation.tenant_id:
        raise ValidationError({"agent_id": "No such agent in this tenant."})
    task = _assigned_task(conversation)
    previous = task.agent_id
    if previous == agent.pk:
        raise ValidationError({"agent_id": "The conversation is already with this agent."})
    media = task.channel_type
    ids = sorted({agent.pk, *([previous] if previous else [])})
    agent_state_ensure(agent=agent)
    list(AgentState.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    try:
        with transaction.atomic():
            AgentState.objects.filter(pk=agent.pk).update(
                **{f"engaged_{media}": F(f"engaged_{media}") + 1}
            )
            if previous:
                AgentState.objects.filter(pk=previous).update(
                    **{f"engaged_{media}": F(f"engaged_{media}") - 1}
                )
    except IntegrityError:
        raise ValidationError(
            {"agent_id": f"{agent} has no free {media} capacity (multimedia profile)."}
        ) from None
    Task.objects.filter(pk=task.pk).update(agent=agent)
    Conversation.objects.filter(pk=conversation.pk).update(owner=agent)
    conversation.owner = agent
    events.emit_one(
        task_id=task.pk,
        tenant_id=task.tenant_id,
        conversation_id=conversation.pk,
        kind=TaskEventKind.TRANSFERRED,
        agent_id=agent.pk,
        queue_id=task.queue_id,
        data={
            "from_agent_id": previous,
            "to_agent_id": agent.pk,
            "by": by.email,
            "takeover": takeover,
        },
    )
    verb = "took over" if takeover else "moved"
    text = f"{by.get_full_name()} {verb} the conversation with {conversation.customer}"
    _tell(
        agent_ids=[a for a in (previous, agent.pk) if a],
        conversation=conversation,
        to_agent_id=agent.pk,
        text=f"{text} to {agent}." if not takeover else f"{text}.",
    )
    return conversation


def conversation_take_over(*, conversation: Conversation, user: User) -> Conversation:
    """The supervisor becomes the owner; they need an agent profile in the tenant to reply."""
    agent = Agent.objects.filter(user=user, tenant_id=conversation.tenant_id).first()
    if agent is None:
        raise ValidationError(
            "Taking over needs an agent profile in this tenant; move the conversation to an "
            "agent instead."
        )
    return conversation_transfer_to_agent(
        conversation=conversation, agent=agent, by=user, takeover=True
    )


def conversation_transfer_to_queue(*, conversation: Conversation, queue: Queue, by: User) -> Task:
    """Ends the conversation's current routing (freeing its agent) and queues it again."""
    if queue.tenant_id != conversation.tenant_id:
        raise ValidationError({"queue_id": "No such queue in this tenant."})
    if conversation.status != Conversation.Status.OPEN:
        raise ValidationError("The conversation is closed; it cannot be queued.")
    if conversation.media_type != queue.channel_type:
        raise ValidationError(
            {
                "queue_id": f"Queue {queue.name} takes {queue.channel_type} contacts; this "
                f"conversation is {conversation.media_type}."
            }
        )
    with transaction.atomic():
        current = list(
            Task.objects.filter(conversation=conversation).exclude(status=TaskStatus.CLOSED)
        )
        if any(t.queue_id == queue.pk and t.status != TaskStatus.ASSIGNED for t in current):
            raise ValidationError({"queue_id": "The conversation is already waiting there."})
        previous = conversation.owner_id
        for task in current:
            task_close(task=task, reason="transferred")
        Conversation.objects.filter(pk=conversation.pk).update(owner=None)
        conversation.owner = None
        task = task_enqueue(conversation=conversation, queue=queue)
        events.emit_one(
            task_id=task.pk,
            tenant_id=task.tenant_id,
            conversation_id=conversation.pk,
            kind=TaskEventKind.TRANSFERRED,
            queue_id=queue.pk,
            data={"from_agent_id": previous, "to_queue_id": queue.pk, "by": by.email},
        )
        if previous:
            _tell(
                agent_ids=[previous],
                conversation=conversation,
                to_agent_id=None,
                text=f"{by.get_full_name()} moved the conversation with "
                f"{conversation.customer} to queue {queue.name}.",
            )
    return task
