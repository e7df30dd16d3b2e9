import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.utils import timezone

from routing.models import AgentState, Offer, Task, TaskEvent
from routing.services import (
    agent_state_set,
    offer_accept,
    task_close,
    task_enqueue,
    timers_sweep,
)
from tests.routing.factories import (
    give_skills,
    make_agent,
    make_conversation,
    make_queue,
    make_skill,
    make_team,
)

# Routing runs after commit: these tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)


def offered_to(task: Task):
    offer = Offer.objects.filter(task=task, status="pending").first()
    return offer.agent if offer else None


def test_tasks_are_offered_by_priority_then_time_enqueued(tenant, chat_queue, chat_team):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        tasks = {}
        for name, priority in [("early low", 5), ("urgent", 1), ("late low", 5), ("normal", 3)]:
            tasks[name] = task_enqueue(
                conversation=make_conversation(tenant=tenant), queue=chat_queue, priority=priority
            )
            clock.shift(1)
        order = []
        for _ in tasks:
            agent = make_agent(tenant=tenant, team=chat_team, max_chat=1)
            agent_state_set(agent=agent, state="available")
            order.append(Offer.objects.get(agent=agent).task_id)
            clock.shift(1)
    assert order == [tasks[n].pk for n in ["urgent", "normal", "early low", "late low"]]


def test_the_longest_available_agent_gets_the_next_task(tenant, chat_queue, chat_team):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        agents = []
        for _ in range(3):
            agent = make_agent(tenant=tenant, team=chat_team)
            agent_state_set(agent=agent, state="available")
            agents.append(agent)
            clock.shift(5)
        first = task_enqueue(conversation=make_conversation(tenant=tenant), queue=chat_queue)
        clock.shift(1)
        second = task_enqueue(conversation=make_conversation(tenant=tenant), queue=chat_queue)
    assert offered_to(first) == agents[0]
    # The agent just offered a contact goes to the back of the line.
    assert offered_to(second) == agents[1]


def test_a_skills_based_queue_prefers_the_best_skill_match(tenant, chat_team):
    queue = make_queue(tenant=tenant, teams=[chat_team], routing_type="skills_based")
    make_skill(tenant=tenant, name="Tech", type="proficiency")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        longest = make_agent(tenant=tenant, team=chat_team)
        give_skills(longest, Tech=4)
        agent_state_set(agent=longest, state="available")
        clock.shift(10)
        expert = make_agent(tenant=tenant, team=chat_team)
        give_skills(expert, Tech=9)
        agent_state_set(agent=expert, state="available")
        task = task_enqueue(
            conversation=make_conversation(tenant=tenant),
            queue=queue,
            requirements=[{"skill": "Tech", "operator": ">=", "value": 3}],
        )
    assert offered_to(task) == expert


def test_only_agents_on_a_team_the_queue_serves_are_offered(tenant, chat_queue):
    other_team = make_team(tenant=tenant, name="Billing")
    outsider = make_agent(tenant=tenant, team=other_team)
    agent_state_set(agent=outsider, state="available")
    task = task_enqueue(conversation=make_conversation(tenant=tenant), queue=chat_queue)
    assert Task.objects.get(pk=task.pk).status == "waiting"
    assert not Offer.objects.exists()


def test_idle_and_signed_out_agents_are_not_offered(tenant, chat_queue, chat_team, available_agent):
    from tests.factories import IdleCodeFactory

    idle = make_agent(tenant=tenant, team=chat_team)
    agent_state_set(
        agent=idle, state="idle", idle_code=IdleCodeFactory(tenant=tenant, name="Lunch")
    )
    make_agent(tenant=tenant, team=chat_team)  # never signed in
    task = task_enqueue(conversation=make_conversation(tenant=tenant), queue=chat_queue)
    assert offered_to(task) is None
    agent = available_agent()
    assert offered_to(task) == agent


def test_blended_capacity_allows_each_media_type_up_to_its_own_maximum(tenant):
    team = make_team(tenant=tenant, max_chat=2, max_email=1, max_social=1, blending="blended")
    chat = make_queue(tenant=tenant, teams=[team], channel_type="chat")
    email = make_queue(tenant=tenant, teams=[team], channel_type="email")
    agent = make_agent(tenant=tenant, team=team)
    agent_state_set(agent=agent, state="available")
    chats = [
        task_enqueue(conversation=make_conversation(tenant=tenant), queue=chat) for _ in range(3)
    ]
    emails = [
        task_enqueue(conversation=make_conversation(tenant=tenant, kind="email"), queue=email)
        for _ in range(2)
    ]
    assert [offered_to(t) == agent for t in chats] == [True, True, False]
    assert [offered_to(t) == agent for t in emails] == [True, False]
    state = AgentState.objects.get(pk=agent.pk)
    assert (state.engaged_chat, state.engaged_email) == (2, 1)


def test_exclusive_capacity_allows_only_one_media_type_at_a_time(tenant):
    team = make_team(tenant=tenant, max_chat=2, max_email=1, max_social=2, blending="exclusive")
    chat = make_queue(tenant=tenant, teams=[team], channel_type="chat")
    email = make_queue(tenant=tenant, teams=[team], channel_type="email")
    agent = make_agent(tenant=tenant, team=team)
    agent_state_set(agent=agent, state="available")
    first_chat = task_enqueue(conversation=make_conversation(tenant=tenant), queue=chat)
    an_email = task_enqueue(
        conversation=make_conversation(tenant=tenant, kind="email"), queue=email
    )
    second_chat = task_enqueue(conversation=make_conversation(tenant=tenant), queue=chat)
    assert offered_to(first_chat) == agent
    assert offered_to(an_email) is None
    assert offered_to(second_chat) == agent
    # Once the chats end, the email comes.
    offer_accept(offer_id=Offer.objects.get(task=first_chat).pk, agent=agent)
    task_close(task=first_chat, reason="done")
    assert offered_to(an_email) is None
    task_close(task=second_chat, reason="done")
    assert offered_to(an_email) == agent


def test_the_database_refuses_an_agent_above_capacity(tenant, chat_team):
    agent = make_agent(tenant=tenant, team=chat_team, max_chat=1)
    agent_state_set(agent=agent, state="available")
    with pytest.raises(IntegrityError):
        AgentState.objects.filter(pk=agent.pk).update(engaged_chat=2)


def test_the_database_refuses_two_media_types_for_an_exclusive_agent(tenant):
    team = make_team(tenant=tenant, blending="exclusive")
    agent = make_agent(tenant=tenant, team=team)
    agent_state_set(agent=agent, state="available")
    with pytest.raises(IntegrityError):
        AgentState.objects.filter(pk=agent.pk).update(engaged_chat=1, engaged_email=1)


def test_relaxation_steps_widen_the_requirements_as_time_passes(tenant, chat_queue, chat_team):
    make_skill(tenant=tenant, name="Spanish", type="boolean")
    make_skill(tenant=tenant, name="Tech", type="proficiency")
    agent = make_agent(tenant=tenant, team=chat_team)
    give_skills(agent, Spanish=False, Tech=4)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        agent_state_set(agent=agent, state="available")
        task = task_enqueue(
            conversation=make_conversation(tenant=tenant),
            queue=chat_queue,
            requirements=[
                {"skill": "Spanish", "operator": "is", "value": True},
                {"skill": "Tech", "operator": ">=", "value": 7},
            ],
            relaxation_steps=[
                {
                    "after_seconds": 60,
                    "skill": "Tech",
                    "action": "replace",
                    "operator": ">=",
                    "value": 3,
                },
                {"after_seconds": 30, "skill": "Spanish", "action": "drop"},
            ],
        )
        assert offered_to(task) is None
        clock.shift(29)
        timers_sweep()
        assert offered_to(task) is None
        clock.shift(2)
        timers_sweep()
        task.refresh_from_db()
        assert (task.relaxation_level, offered_to(task)) == (1, None)
        assert [r["skill"] for r in task.current_requirements] == ["Tech"]
        clock.shift(30)
        timers_sweep()
    task.refresh_from_db()
    assert task.relaxation_level == 2
    assert task.next_relaxation_at is None
    assert offered_to(task) == agent
    relaxed = TaskEvent.objects.filter(task=task, kind="relaxed")
    assert [e.data["steps"][0]["skill"] for e in relaxed] == ["Spanish", "Tech"]


def test_relaxation_steps_must_name_a_required_skill(tenant, chat_queue):
    make_skill(tenant=tenant, name="Spanish", type="boolean")
    with pytest.raises(
        ValidationError, match="'French' is not among the task's skill requirements"
    ):
        task_enqueue(
            conversation=make_conversation(tenant=tenant),
            queue=chat_queue,
            requirements=[{"skill": "Spanish", "operator": "is", "value": True}],
            relaxation_steps=[{"after_seconds": 30, "skill": "French", "action": "drop"}],
        )
    assert not Task.objects.exists()


def test_a_task_past_the_maximum_time_in_queue_takes_its_overflow_path(tenant, chat_team):
    other_team = make_team(tenant=tenant, name="Overflow team")
    overflow = make_queue(tenant=tenant, teams=[other_team], name="Overflow")
    queue = make_queue(
        tenant=tenant,
        teams=[chat_team],
        name="Main",
        max_time_in_queue_seconds=120,
        overflow_queue=overflow,
    )
    helper = make_agent(tenant=tenant, team=other_team)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        agent_state_set(agent=helper, state="available")
        task = task_enqueue(conversation=make_conversation(tenant=tenant), queue=queue)
        clock.shift(119)
        timers_sweep()
        assert Task.objects.get(pk=task.pk).queue == queue
        clock.shift(2)
        timers_sweep()
    task.refresh_from_db()
    assert task.queue == overflow
    assert offered_to(task) == helper
    assert TaskEvent.objects.get(task=task, kind="overflowed").data == {
        "from_queue": "Main",
        "to_queue": "Overflow",
    }


def test_enqueueing_the_same_conversation_twice_returns_the_same_task(tenant, chat_queue):
    conversation = make_conversation(tenant=tenant)
    first = task_enqueue(conversation=conversation, queue=chat_queue)
    again = task_enqueue(conversation=conversation, queue=chat_queue, priority=1)
    assert again.pk == first.pk
    assert Task.objects.count() == 1
    assert TaskEvent.objects.filter(kind="queued").count() == 1


def test_a_conversation_of_another_media_type_is_refused_by_the_queue(tenant, chat_queue):
    with pytest.raises(ValidationError, match="takes chat contacts; this conversation is email"):
        task_enqueue(conversation=make_conversation(tenant=tenant, kind="email"), queue=chat_queue)


@pytest.mark.parametrize("priority", [0, 11, "high", None, True])
def test_priority_must_be_between_one_and_ten(tenant, chat_queue, priority):
    with pytest.raises(ValidationError, match="Priority is a whole number from 1"):
        task_enqueue(
            conversation=make_conversation(tenant=tenant), queue=chat_queue, priority=priority
        )


def test_the_default_queue_is_one_per_tenant(tenant, chat_team):
    from routing.selectors import queue_default

    assert queue_default(tenant=tenant) is None
    default = make_queue(tenant=tenant, teams=[chat_team], default=True)
    assert queue_default(tenant=tenant) == default
    with pytest.raises(IntegrityError):
        make_queue(tenant=tenant, teams=[chat_team], default=True)
