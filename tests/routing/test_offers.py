from datetime import timedelta

import pytest
import time_machine
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.utils import timezone

from channels_app import events as channel_events
from channels_app.models import Conversation
from routing import events
from routing.errors import RoutingError
from routing.models import AgentState, AgentStateChange, Offer, Task, TaskEvent
from routing.selectors import agent_pending_offers, agent_state_get
from routing.services import (
    agent_state_set,
    offer_accept,
    offer_decline,
    offers_expire_due,
    task_close,
    task_enqueue,
    timers_sweep,
)
from tenants.realtime import agent_group, tenant_group
from tests.factories import IdleCodeFactory
from tests.routing.factories import make_agent, make_conversation

# Routing runs after commit: these tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def listen():
    """Joins a fresh channel to groups on the real channel layer and returns a reader."""
    layer = get_channel_layer()

    def join(*groups):
        channel = async_to_sync(layer.new_channel)()
        for group in groups:
            async_to_sync(layer.group_add)(group, channel)

        def received():
            messages = []
            while True:
                try:
                    message = async_to_sync(_receive)(layer, channel)
                    # A batch carries several events for the group in one layer message.
                    messages.extend(message.get("events") or [message])
                except TimeoutError:
                    return messages

        return received

    return join


async def _receive(layer, channel):
    import asyncio

    return await asyncio.wait_for(layer.receive(channel), timeout=0.3)


@pytest.fixture
def offered(tenant, chat_queue, available_agent):
    agent = available_agent()
    conversation = make_conversation(
        tenant=tenant, customer_name="Dana", text="My router is blinking"
    )
    task = task_enqueue(conversation=conversation, queue=chat_queue)
    return agent, task, Offer.objects.get(task=task)


def test_an_offer_carries_what_the_desktop_shows(tenant, chat_queue, available_agent, listen):
    agent = available_agent()
    received = listen(agent_group(agent.pk), tenant_group(tenant.pk))
    conversation = make_conversation(
        tenant=tenant, customer_name="Dana", text="My router is blinking"
    )
    task = task_enqueue(conversation=conversation, queue=chat_queue)
    offer = Offer.objects.get(task=task)
    pushes = [m for m in received() if m["event"] == "routing.offered"]
    assert len(pushes) == 2  # the agent's desktop and the supervisors' console
    payload = pushes[0]["payload"]
    assert payload["offer_id"] == offer.pk
    assert payload["task_id"] == task.pk
    assert payload["conversation_uuid"] == str(conversation.uuid)
    assert payload["customer_name"] == "Dana"
    assert payload["channel_kind"] == "chat" and payload["channel_name"] == "Live chat"
    assert payload["queue_name"] == "Chat support"
    assert payload["preview"] == "My router is blinking"
    assert payload["expires_at"] == offer.expires_at.isoformat()
    assert offer.expires_at - offer.created_at == timedelta(seconds=tenant.policy.rona_chat_seconds)


def test_accepting_makes_the_agent_the_owner_and_counts_against_capacity(offered):
    agent, task, offer = offered
    assert list(agent_pending_offers(agent=agent)) == [offer]
    offer_accept(offer_id=offer.pk, agent=agent)
    task.refresh_from_db()
    assert task.status == "assigned" and task.agent == agent
    assert Conversation.objects.get(pk=task.conversation_id).owner == agent
    assert AgentState.objects.get(pk=agent.pk).engaged_chat == 1
    assert list(TaskEvent.objects.filter(task=task).values_list("kind", flat=True)) == [
        "queued",
        "offered",
        "accepted",
    ]
    assert list(agent_pending_offers(agent=agent)) == []


def test_accepting_twice_does_no_harm(offered):
    agent, task, offer = offered
    offer_accept(offer_id=offer.pk, agent=agent)
    offer_accept(offer_id=offer.pk, agent=agent)
    assert AgentState.objects.get(pk=agent.pk).engaged_chat == 1
    assert TaskEvent.objects.filter(task=task, kind="accepted").count() == 1


def test_another_agent_cannot_accept_someone_elses_offer(offered, tenant, chat_team):
    agent, task, offer = offered
    other = make_agent(tenant=tenant, team=chat_team)
    with pytest.raises(RoutingError, match="No such offer"):
        offer_accept(offer_id=offer.pk, agent=other)
    assert Offer.objects.get(pk=offer.pk).status == "pending"


def test_declining_puts_the_task_back_in_its_place_and_leaves_the_agent_available(
    tenant, chat_queue, available_agent
):
    agent = available_agent(max_chat=1)
    first = task_enqueue(conversation=make_conversation(tenant=tenant), queue=chat_queue)
    second = task_enqueue(conversation=make_conversation(tenant=tenant), queue=chat_queue)
    offer = Offer.objects.get(task=first)
    offer_decline(offer_id=offer.pk, agent=agent)
    offer_decline(offer_id=offer.pk, agent=agent)  # a retry changes nothing
    state = AgentState.objects.get(pk=agent.pk)
    assert state.state == "available"
    # The declined task keeps its place ahead of the second one; the agent is not offered it again
    # right away, so the next in line comes to them.
    assert Task.objects.get(pk=first.pk).status == "waiting"
    assert Offer.objects.get(task=second, status="pending").agent == agent
    assert state.engaged_chat == 1
    another = available_agent()
    assert Offer.objects.get(task=first, status="pending").agent == another
    assert TaskEvent.objects.filter(task=first, kind="declined").count() == 1


def test_an_unanswered_offer_expires_and_the_agent_goes_to_rona(
    tenant, chat_queue, available_agent, listen
):
    now = timezone.now()
    with time_machine.travel(now, tick=False) as clock:
        agent = available_agent()
        received = listen(agent_group(agent.pk))
        task = task_enqueue(conversation=make_conversation(tenant=tenant), queue=chat_queue)
        offer = Offer.objects.get(task=task)
        clock.shift(tenant.policy.rona_chat_seconds - 1)
        timers_sweep()
        assert Offer.objects.get(pk=offer.pk).status == "pending"
        clock.shift(1)
        timers_sweep()
    offer.refresh_from_db()
    assert offer.status == "expired"
    assert Task.objects.get(pk=task.pk).status == "waiting"
    state = agent_state_get(agent=agent)
    assert (state.state, state.engaged_chat) == ("rona", 0)
    assert AgentStateChange.objects.filter(agent=agent).first().state == "rona"
    assert "routing.rona" in [m["event"] for m in received()]
    # In RONA the agent is offered nothing until they choose available again.
    with time_machine.travel(now + timedelta(minutes=5), tick=False):
        timers_sweep()
        assert not Offer.objects.filter(status="pending").exists()
        agent_state_set(agent=agent, state="available")
    assert Offer.objects.get(task=task, status="pending").agent == agent


def test_an_expired_offer_cannot_be_accepted_even_before_the_sweep(offered, tenant):
    agent, task, offer = offered
    with time_machine.travel(offer.expires_at + timedelta(seconds=1), tick=False):
        with pytest.raises(RoutingError, match="expired"):
            offer_accept(offer_id=offer.pk, agent=agent)
        offers_expire_due()
        with pytest.raises(RoutingError, match="expired"):
            offer_accept(offer_id=offer.pk, agent=agent)
    assert Offer.objects.get(pk=offer.pk).status == "expired"
    assert Conversation.objects.get(pk=task.conversation_id).owner is None


def test_an_accepted_offer_never_expires(offered):
    agent, task, offer = offered
    offer_accept(offer_id=offer.pk, agent=agent)
    with time_machine.travel(offer.expires_at + timedelta(seconds=5), tick=False):
        assert offers_expire_due() == 0
    assert Offer.objects.get(pk=offer.pk).status == "accepted"
    assert agent_state_get(agent=agent).state == "available"


def test_pending_offers_survive_a_restart_and_expire_on_the_first_sweep_after_it(
    tenant, chat_queue, available_agent
):
    # No process kept a timer: the deadline is a column, so a sweep long after still finds it.
    agents = [available_agent() for _ in range(3)]
    tasks = [
        task_enqueue(conversation=make_conversation(tenant=tenant), queue=chat_queue)
        for _ in range(3)
    ]
    deadline = max(o.expires_at for o in Offer.objects.all())
    with time_machine.travel(deadline + timedelta(minutes=10), tick=False):
        result = timers_sweep()
        assert timers_sweep()["expired"] == 0
    assert result["expired"] == 3
    assert all(agent_state_get(agent=a).state == "rona" for a in agents)
    assert all(Task.objects.get(pk=t.pk).status == "waiting" for t in tasks)


def test_going_idle_withdraws_pending_offers_without_rona(offered, tenant):
    agent, task, offer = offered
    agent_state_set(
        agent=agent, state="idle", idle_code=IdleCodeFactory(tenant=tenant, name="Lunch")
    )
    assert Offer.objects.get(pk=offer.pk).status == "withdrawn"
    state = agent_state_get(agent=agent)
    assert (state.state, state.engaged_chat) == ("idle", 0)
    assert Task.objects.get(pk=task.pk).status == "waiting"


def test_every_agent_state_change_is_recorded_with_its_time(tenant, chat_team):
    agent = make_agent(tenant=tenant, team=chat_team)
    lunch = IdleCodeFactory(tenant=tenant, name="Lunch")
    agent_state_set(agent=agent, state="available")
    agent_state_set(agent=agent, state="available")  # no change, no record
    agent_state_set(agent=agent, state="idle", idle_code=lunch)
    agent_state_set(agent=agent, state="signed_out")
    history = list(AgentStateChange.objects.filter(agent=agent).order_by("at", "id"))
    assert [(h.previous_state, h.state) for h in history] == [
        ("signed_out", "available"),
        ("available", "idle"),
        ("idle", "signed_out"),
    ]
    assert history[1].idle_code == lunch
    assert all(h.at for h in history)


@pytest.mark.parametrize(
    ("state", "code", "message"),
    [
        ("rona", False, "RONA is set by the router"),
        ("idle", False, "Going idle needs an idle code"),
        ("available", True, "Only the idle state takes an idle code"),
        ("busy", False, "Unknown state"),
    ],
)
def test_state_changes_that_make_no_sense_are_refused(tenant, chat_team, state, code, message):
    from django.core.exceptions import ValidationError

    agent = make_agent(tenant=tenant, team=chat_team)
    idle_code = IdleCodeFactory(tenant=tenant) if code else None
    with pytest.raises(ValidationError, match=message):
        agent_state_set(agent=agent, state=state, idle_code=idle_code)
    assert agent_state_get(agent=agent).state == "signed_out"


def test_an_idle_code_of_another_tenant_is_refused(tenant, other_tenant, chat_team):
    from django.core.exceptions import ValidationError

    agent = make_agent(tenant=tenant, team=chat_team)
    with pytest.raises(ValidationError, match="No such idle code"):
        agent_state_set(agent=agent, state="idle", idle_code=IdleCodeFactory(tenant=other_tenant))


def test_closing_the_conversation_closes_the_task_and_frees_capacity(offered, tenant, chat_queue):
    agent, task, offer = offered
    offer_accept(offer_id=offer.pk, agent=agent)
    waiting = [
        task_enqueue(conversation=make_conversation(tenant=tenant), queue=chat_queue)
        for _ in range(2)
    ]
    assert Offer.objects.get(task=waiting[0]).agent == agent  # max_chat is 2
    assert not Offer.objects.filter(task=waiting[1]).exists()
    from django.db import transaction

    with transaction.atomic():
        Conversation.objects.filter(pk=task.conversation_id).update(status="closed")
        channel_events.announce(
            channel_events.CONVERSATION_CLOSED,
            conversation_id=task.conversation_id,
            reason="agent_closed",
        )
    task.refresh_from_db()
    assert (task.status, task.close_reason) == ("closed", "agent_closed")
    assert Offer.objects.get(task=waiting[1]).agent == agent  # the freed place was filled
    assert AgentState.objects.get(pk=agent.pk).engaged_chat == 2
    task_close(task=task, reason="again")  # closing twice changes nothing
    assert AgentState.objects.get(pk=agent.pk).engaged_chat == 2


def test_closing_a_task_with_a_pending_offer_withdraws_it(offered):
    agent, task, offer = offered
    task_close(task=task, reason="customer_left")
    assert Offer.objects.get(pk=offer.pk).status == "withdrawn"
    assert AgentState.objects.get(pk=agent.pk).engaged_chat == 0


def test_event_subscribers_run_after_commit_with_ids(offered):
    agent, task, offer = offered
    seen = []

    def handler(**ids):
        seen.append(ids)

    events.subscribe("accepted", handler)
    try:
        offer_accept(offer_id=offer.pk, agent=agent)
    finally:
        events.unsubscribe("accepted", handler)
    assert len(seen) == 1
    assert seen[0]["task_id"] == task.pk
    assert seen[0]["offer_id"] == offer.pk
    assert seen[0]["agent_id"] == agent.pk
    assert seen[0]["conversation_id"] == task.conversation_id
    assert seen[0]["event_id"] == TaskEvent.objects.get(task=task, kind="accepted").pk


def test_subscribing_to_an_unknown_kind_is_an_error():
    with pytest.raises(ValueError, match="unknown routing event kind"):
        events.subscribe("teleported", lambda **ids: None)
