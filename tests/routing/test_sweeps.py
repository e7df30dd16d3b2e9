"""The sweeps and the router's reads work in sets: their statements do not grow with the rows."""

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from channels_app.models import Conversation
from channels_app.services import conversations_close_inactive
from routing.models import AgentState, Offer, Task
from routing.selectors import queue_stats
from routing.services import (
    offers_expire_due,
    route_waiting_queues,
    task_enqueue,
    tasks_overflow_due,
    tasks_relax_due,
)
from routing.services.bulk import rows_update
from routing.services.router import _heads, _heads_portable, route_for_agent
from tests.routing.factories import (
    give_skills,
    make_agent,
    make_conversation,
    make_queue,
    make_skill,
    make_team,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _queries(fn) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as ctx:
        result = fn()
    return len(ctx.captured_queries), result


def _offers(tenant, count: int) -> list[Offer]:
    team = make_team(tenant=tenant, max_chat=1)
    queue = make_queue(tenant=tenant, teams=[team])
    for _ in range(count):
        agent = make_agent(tenant=tenant, team=team)
        from routing.services import agent_state_set

        agent_state_set(agent=agent, state="available")
    for _ in range(count):
        task_enqueue(conversation=make_conversation(tenant=tenant), queue=queue)
    offers = list(Offer.objects.filter(tenant=tenant, status="pending"))
    assert len(offers) == count
    return offers


def test_expiring_many_offers_takes_as_many_statements_as_expiring_a_few(tenant, other_tenant):
    few = _offers(other_tenant, 2)
    many = _offers(tenant, 12)
    later = max(o.expires_at for o in few + many) + timedelta(seconds=1)
    Offer.objects.filter(tenant=tenant).update(expires_at=later + timedelta(hours=1))
    with time_machine.travel(later, tick=False):
        few_queries, expired = _queries(offers_expire_due)
    assert expired == 2
    Offer.objects.filter(tenant=tenant).update(expires_at=later - timedelta(seconds=1))
    with time_machine.travel(later, tick=False):
        many_queries, expired = _queries(offers_expire_due)

    assert expired == 12
    assert many_queries == few_queries
    assert set(AgentState.objects.filter(tenant=tenant).values_list("state", flat=True)) == {"rona"}
    assert set(AgentState.objects.filter(tenant=tenant).values_list("engaged_chat", flat=True)) == {
        0
    }
    assert Task.objects.filter(tenant=tenant, status="waiting").count() == 12


def test_a_batch_of_pushes_is_one_layer_message_per_group():
    from tenants.realtime import BATCH_MESSAGE_EVENTS, Push, layer_messages

    pushes = [Push(["agent.1", "tenant.1"], "routing.rona", {"task_id": i}) for i in range(3)]
    pushes += [Push(["agent.2", "tenant.1"], "routing.rona", {"task_id": 3})]
    pushes += [
        Push(["tenant.2"], "routing.rona", {"task_id": i}) for i in range(BATCH_MESSAGE_EVENTS + 1)
    ]

    messages = layer_messages(pushes)

    by_group = {}
    for group, message in messages:
        by_group.setdefault(group, []).append(message)
    assert [m["type"] for m in by_group["agent.1"]] == ["push.events"]
    assert [e["payload"]["task_id"] for e in by_group["agent.1"][0]["events"]] == [0, 1, 2]
    assert by_group["agent.2"] == [
        {"type": "push.event", "event": "routing.rona", "payload": {"task_id": 3}}
    ]
    assert [e["payload"]["task_id"] for e in by_group["tenant.1"][0]["events"]] == [0, 1, 2, 3]
    assert [len(m["events"]) for m in by_group["tenant.2"]] == [BATCH_MESSAGE_EVENTS, 1]


def _relaxing_tasks(tenant, queue, count: int) -> list[Task]:
    skill = make_skill(tenant=tenant, name=f"Tech {count}", type="proficiency")
    return [
        task_enqueue(
            conversation=make_conversation(tenant=tenant),
            queue=queue,
            requirements=[{"skill": skill.name, "operator": ">=", "value": 8}],
            relaxation_steps=[
                {
                    "after_seconds": 10,
                    "skill": skill.name,
                    "action": "replace",
                    "operator": ">=",
                    "value": 5,
                },
                {"after_seconds": 20, "skill": skill.name, "action": "drop"},
            ],
        )
        for _ in range(count)
    ]


def test_relaxing_many_tasks_takes_as_many_statements_as_relaxing_a_few(tenant, chat_queue):
    few = _relaxing_tasks(tenant, chat_queue, 2)
    with time_machine.travel(timezone.now() + timedelta(seconds=12), tick=False):
        few_queries, relaxed = _queries(tasks_relax_due)
    assert relaxed == 2
    many = _relaxing_tasks(tenant, chat_queue, 15)
    with time_machine.travel(timezone.now() + timedelta(seconds=12), tick=False):
        many_queries, relaxed = _queries(tasks_relax_due)

    assert relaxed == 15
    assert many_queries == few_queries
    for task in Task.objects.filter(pk__in=[t.pk for t in many]):
        assert task.relaxation_level == 1
        assert [r["value"] for r in task.current_requirements] == [5]
        assert task.next_relaxation_at == task.enqueued_at + timedelta(seconds=20)
    # The two tasks relaxed first have their second step due by now and lose the requirement.
    for task in Task.objects.filter(pk__in=[t.pk for t in few]):
        assert task.relaxation_level == 1
    assert Task.objects.filter(pk__in=[t.pk for t in many], events__kind="relaxed").count() == 15


def _relaxation_mix(tenant, queue) -> list[Task]:
    """Tasks whose relaxation takes two steps at once, one more step, a drop and then a
    replacement, or none; and an assigned one, which must not move."""
    from routing.services.skills import requirements_after, requirements_key

    make_skill(tenant=tenant, name="Tech", type="proficiency")
    make_skill(tenant=tenant, name="Lang", type="enum", enum_values=["de", "en"])
    tech = {"skill": "Tech", "operator": ">=", "value": 8}
    lang = {"skill": "Lang", "operator": "=", "value": "de"}
    three_steps = [
        {"after_seconds": 10, "skill": "Tech", "action": "replace", "operator": ">=", "value": 5},
        {
            "after_seconds": 20,
            "skill": "Lang",
            "action": "replace",
            "operator": "in",
            "value": ["de", "en"],
        },
        {"after_seconds": 40, "skill": "Tech", "action": "drop"},
    ]
    drop_then_back = [
        {"after_seconds": 5, "skill": "Tech", "action": "drop"},
        {"after_seconds": 15, "skill": "Tech", "action": "replace", "operator": ">=", "value": 2},
    ]
    tasks = [
        task_enqueue(
            conversation=make_conversation(tenant=tenant),
            queue=queue,
            requirements=requirements,
            relaxation_steps=steps,
        )
        for requirements, steps in (
            ([tech, lang], three_steps),
            ([tech, lang], three_steps),
            ([tech], drop_then_back),
            ([tech, lang], []),
            ([tech], drop_then_back),
        )
    ]
    # The second task took its first step already.
    second = tasks[1]
    current = requirements_after(
        requirements=second.requirements, steps=second.relaxation_steps, level=1
    )
    Task.objects.filter(pk=second.pk).update(
        relaxation_level=1,
        current_requirements=current,
        requirements_key=requirements_key(current),
        next_relaxation_at=second.enqueued_at + timedelta(seconds=20),
    )
    Task.objects.filter(pk=tasks[4].pk).update(status="assigned")
    return tasks


def _relaxed_state(tasks: list[Task]) -> list[tuple]:
    rows = Task.objects.filter(pk__in=[t.pk for t in tasks]).order_by("pk")
    return [
        (
            t.relaxation_level,
            t.next_relaxation_at,
            t.current_requirements,
            t.requirements_key,
            [(e.kind, e.queue_id, e.data) for e in t.events.filter(kind="relaxed")],
        )
        for t in rows
    ]


def test_relaxation_in_sql_ends_where_the_step_by_step_loop_ends(tenant, chat_queue):
    from django.db import transaction

    from routing.services.tasks import _relax_batch_portable, _relax_batch_sql

    tasks = _relaxation_mix(tenant, chat_queue)
    later = timezone.now() + timedelta(seconds=25)
    results = {}
    for name, relax in (("portable", _relax_batch_portable), ("sql", _relax_batch_sql)):
        with transaction.atomic():
            with time_machine.travel(later, tick=False):
                count, queue_ids = relax(now=later, batch=100)
            results[name] = (count, queue_ids, _relaxed_state(tasks))
            transaction.set_rollback(True)

    assert results["sql"] == results["portable"]
    count, queue_ids, state = results["sql"]
    assert (count, queue_ids) == (3, {chat_queue.pk})
    assert [level for level, *_ in state] == [2, 2, 2, 0, 0]
    first, second, back = state[:3]
    assert first[1] == tasks[0].enqueued_at + timedelta(seconds=40)
    assert [(r["skill"], r["value"]) for r in first[2]] == [("Tech", 5), ("Lang", ["de", "en"])]
    assert [len(events[0][2]["steps"]) for *_, events in (first, second, back)] == [2, 1, 2]
    assert (back[1], [(r["skill"], r["value"]) for r in back[2]]) == (None, [("Tech", 2)])


def test_the_portable_update_writes_the_same_rows_as_the_postgresql_one(tenant, chat_queue):
    tasks = _relaxing_tasks(tenant, chat_queue, 3)
    when = timezone.now() + timedelta(minutes=5)
    for i, task in enumerate(tasks):
        task.relaxation_level, task.next_relaxation_at = i, when if i else None
        task.current_requirements, task.requirements_key = [{"n": i}], f"key-{i}"
    fields = ["relaxation_level", "next_relaxation_at", "current_requirements", "requirements_key"]

    assert rows_update(Task, tasks[:2], fields) == 2
    assert Task.objects.bulk_update(tasks[2:], fields) == 1  # the embedded SQLite path

    rows = Task.objects.filter(pk__in=[t.pk for t in tasks]).order_by("pk")
    assert [
        (t.relaxation_level, t.next_relaxation_at, t.current_requirements, t.requirements_key)
        for t in rows
    ] == [
        (0, None, [{"n": 0}], "key-0"),
        (1, when, [{"n": 1}], "key-1"),
        (2, when, [{"n": 2}], "key-2"),
    ]


def test_overflowing_many_tasks_takes_as_many_statements_as_overflowing_a_few(tenant):
    team = make_team(tenant=tenant)
    spill = make_queue(tenant=tenant, teams=[team], name="Spill")
    source = make_queue(
        tenant=tenant,
        teams=[team],
        name="Source",
        max_time_in_queue_seconds=30,
        overflow_queue=spill,
    )
    few = [
        task_enqueue(conversation=make_conversation(tenant=tenant), queue=source) for _ in range(3)
    ]
    # One of them is already waiting in the overflow queue: it stays where it is.
    task_enqueue(conversation=few[0].conversation, queue=spill)
    with time_machine.travel(timezone.now() + timedelta(seconds=31), tick=False):
        few_queries, moved = _queries(tasks_overflow_due)
    assert moved == 3
    many = [
        task_enqueue(conversation=make_conversation(tenant=tenant), queue=source) for _ in range(12)
    ]
    task_enqueue(conversation=many[0].conversation, queue=spill)
    with time_machine.travel(timezone.now() + timedelta(seconds=31), tick=False):
        many_queries, moved = _queries(tasks_overflow_due)

    assert moved == 12
    assert many_queries == few_queries
    assert Task.objects.filter(pk__in=[t.pk for t in few[1:] + many[1:]], queue=spill).count() == 13
    for stayed in Task.objects.filter(pk__in=[few[0].pk, many[0].pk]):
        assert (stayed.queue_id, stayed.overflow_at) == (source.pk, None)
    assert Task.objects.filter(queue=spill, events__kind="overflowed").count() == 13


def test_the_inactivity_sweep_reads_only_the_due_conversations(tenant, other_tenant):
    tenant.policy.inactivity_close_minutes = 60
    tenant.policy.save()
    now = timezone.now()
    fresh = [make_conversation(tenant=tenant) for _ in range(5)]
    stale = [make_conversation(tenant=tenant) for _ in range(7)]
    Conversation.objects.filter(pk__in=[c.pk for c in stale]).update(
        last_message_at=now - timedelta(minutes=61)
    )
    elsewhere = make_conversation(tenant=other_tenant)

    with CaptureQueriesContext(connection) as ctx:
        closed = conversations_close_inactive(now=now)

    assert closed == 7
    assert set(
        Conversation.objects.filter(pk__in=[c.pk for c in stale]).values_list("status", flat=True)
    ) == {"closed"}
    assert set(
        Conversation.objects.filter(pk__in=[c.pk for c in [*fresh, elsewhere]]).values_list(
            "status", flat=True
        )
    ) == {"open"}
    sql = [q["sql"] for q in ctx.captured_queries]
    # No DISTINCT over conversations, no statement a conversation.
    assert not any("DISTINCT" in s and "channels_app_conversation" in s for s in sql)
    assert sum('UPDATE "channels_app_conversation"' in s for s in sql) == 1


def test_every_periodic_task_expires_so_a_slow_pass_never_piles_up():
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        expires = entry.get("options", {}).get("expires")
        assert expires is not None, name
        assert 0 < expires <= entry["schedule"].total_seconds() * 5, name


def _signatures(tenant, queue) -> dict[str, list[Task]]:
    tasks: dict[str, list[Task]] = {}
    for i in range(9):
        task = task_enqueue(
            conversation=make_conversation(tenant=tenant), queue=queue, priority=1 + (i * 7) % 4
        )
        key = f"sig-{i % 3}"
        Task.objects.filter(pk=task.pk).update(requirements_key=key)
        tasks.setdefault(key, []).append(Task.objects.get(pk=task.pk))
    return tasks


def test_the_queue_heads_are_the_first_task_of_each_signature_in_queue_order(tenant, chat_queue):
    tasks = _signatures(tenant, chat_queue)
    expected = sorted(
        (min(ts, key=lambda t: (t.priority, t.enqueued_at, t.pk)) for ts in tasks.values()),
        key=lambda t: (t.priority, t.enqueued_at, t.pk),
    )

    heads = _heads(chat_queue.pk)

    assert [t.pk for t in heads] == [t.pk for t in expected]
    # The ORM fallback of the embedded SQLite setup finds the same heads.
    portable = sorted(
        _heads_portable(chat_queue.pk), key=lambda t: (t.priority, t.enqueued_at, t.pk)
    )
    assert [t.pk for t in portable] == [t.pk for t in expected]


def test_the_queue_heads_need_no_sort_and_no_scan_of_the_waiting_tasks(tenant, chat_queue):
    from routing.services.router import HEADS_SQL

    _signatures(tenant, chat_queue)
    with connection.cursor() as cursor:
        # Tiny test tables make a sequential scan cheapest; what matters is the plan's shape.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + HEADS_SQL, {"queue": chat_queue.pk})
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "Sort" not in plan
    assert "Seq Scan" not in plan
    assert "task_waiting_signature_order" in plan


def test_routing_for_an_agent_probes_each_queue_without_walking_its_line(tenant, chat_team):
    from routing.services import agent_state_set

    queue = make_queue(tenant=tenant, teams=[chat_team])
    idle_queue = make_queue(tenant=tenant, teams=[chat_team], name="Quiet")
    for _ in range(3):
        task_enqueue(conversation=make_conversation(tenant=tenant), queue=queue)
    agent = make_agent(tenant=tenant, team=chat_team)
    agent_state_set(agent=agent, state="available")
    assert Offer.objects.filter(agent=agent).count() == 2  # room for two chats
    AgentState.objects.filter(pk=agent.pk).update(engaged_chat=1)

    with CaptureQueriesContext(connection) as ctx:
        assert route_for_agent(agent_id=agent.pk) == 1

    sql = " ".join(q["sql"] for q in ctx.captured_queries)
    assert "DISTINCT" not in sql
    assert Task.objects.filter(queue=idle_queue).count() == 0
    assert route_waiting_queues() == 0


def test_looking_for_an_agent_with_room_reads_only_agents_with_room(tenant, chat_team, chat_queue):
    from django.db import transaction

    from routing.services import agent_state_set
    from routing.services.router import _any_room

    agent = make_agent(tenant=tenant, team=chat_team)
    agent_state_set(agent=agent, state="available")
    assert _any_room(queue=chat_queue, team_ids=[chat_team.pk])
    AgentState.objects.filter(pk=agent.pk).update(engaged_chat=2)  # at capacity
    assert not _any_room(queue=chat_queue, team_ids=[chat_team.pk])

    with CaptureQueriesContext(connection) as ctx:
        _any_room(queue=chat_queue, team_ids=[chat_team.pk])
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + ctx.captured_queries[0]["sql"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "agentstate_room_chat" in plan
    assert "Sort" not in plan


def test_queue_statistics_never_read_another_tenants_tasks(tenant, other_tenant, chat_queue):
    team = make_team(tenant=other_tenant)
    theirs = make_queue(tenant=other_tenant, teams=[team])
    for _ in range(3):
        task_enqueue(conversation=make_conversation(tenant=other_tenant), queue=theirs)
    task_enqueue(conversation=make_conversation(tenant=tenant), queue=chat_queue)
    empty = make_queue(tenant=tenant, teams=[], name="Empty")

    with CaptureQueriesContext(connection) as ctx:
        stats = queue_stats(tenant=tenant)

    assert [(s["queue_id"], s["waiting"], s["offered"]) for s in stats] == [
        (chat_queue.pk, 1, 0),
        (empty.pk, 0, 0),
    ]
    for query in ctx.captured_queries:
        assert f'"tenant_id" = {tenant.pk}' in query["sql"], query["sql"]
    assert all(s["queue_id"] != theirs.pk for s in stats)


def test_skills_still_decide_who_is_offered_after_relaxation(tenant, chat_queue, chat_team):
    skill = make_skill(tenant=tenant, name="Billing", type="proficiency")
    novice = make_agent(tenant=tenant, team=chat_team)
    give_skills(novice, Billing=3)
    from routing.services import agent_state_set

    agent_state_set(agent=novice, state="available")
    task = task_enqueue(
        conversation=make_conversation(tenant=tenant),
        queue=chat_queue,
        requirements=[{"skill": skill.name, "operator": ">=", "value": 8}],
        relaxation_steps=[
            {
                "after_seconds": 10,
                "skill": skill.name,
                "action": "replace",
                "operator": ">=",
                "value": 3,
            }
        ],
    )
    assert not Offer.objects.filter(task=task).exists()
    with time_machine.travel(timezone.now() + timedelta(seconds=11), tick=False):
        assert tasks_relax_due() == 1
    assert Offer.objects.get(task=task).agent == novice
