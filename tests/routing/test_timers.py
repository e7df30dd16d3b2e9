from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from config.celery import app
from config.ticker import run_due
from routing.models import Offer, Task
from routing.services import task_enqueue
from tests.routing.factories import make_conversation

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_beat_schedule_names_the_routing_sweep():
    assert "routing.tasks.sweep_due_timers" in app.tasks


def test_the_embedded_ticker_expires_offers_through_the_sweep(tenant, chat_queue, available_agent):
    available_agent()
    task = task_enqueue(conversation=make_conversation(tenant=tenant), queue=chat_queue)
    offer = Offer.objects.get(task=task)
    with time_machine.travel(offer.expires_at + timedelta(seconds=1), tick=False):
        run_due({}, 10_000.0)
    assert Offer.objects.get(pk=offer.pk).status == "expired"
    assert Task.objects.get(pk=task.pk).status == "waiting"


def test_a_waiting_task_left_by_a_lost_routing_run_is_routed_by_the_next_sweep(
    tenant, chat_queue, chat_team
):
    from routing.models import AgentState
    from routing.services import agent_state_ensure, timers_sweep
    from tests.routing.factories import make_agent

    task = task_enqueue(conversation=make_conversation(tenant=tenant), queue=chat_queue)
    # The agent becomes available without the routing run that normally follows (a worker died).
    agent = make_agent(tenant=tenant, team=chat_team)
    agent_state_ensure(agent=agent)
    AgentState.objects.filter(pk=agent.pk).update(state="available", available_since=timezone.now())
    assert Task.objects.get(pk=task.pk).status == "waiting"
    assert timers_sweep()["offered"] == 1
    assert Offer.objects.get(task=task).agent == agent
