"""Several routers at once on one queue, in real threads with their own database connections."""

import threading
from collections import Counter

import pytest
from django.db import connection, connections
from django.db.models import Count, Q

from routing.models import AgentState, Offer, Task
from routing.services import offer_accept, offers_expire_due, route_queue, task_close, task_enqueue
from tests.routing.factories import make_agent, make_conversation, make_queue, make_team

pytestmark = pytest.mark.django_db(transaction=True)


def run_in_threads(count: int, target) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list = []

    def worker(i: int) -> None:
        try:
            barrier.wait()
            results[i] = target(i)
        except Exception as exc:  # surfaced in the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return results


def make_available(agent) -> None:
    profile = agent.multimedia_profile
    AgentState.objects.create(
        agent=agent,
        tenant_id=agent.tenant_id,
        team_id=agent.team_id,
        state="available",
        max_chat=profile.max_chat,
        max_email=profile.max_email,
        max_social=profile.max_social,
        blending=profile.blending,
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_concurrent_routers_never_offer_a_task_twice_nor_exceed_capacity(tenant):
    team = make_team(tenant=tenant, max_chat=2)
    queue = make_queue(tenant=tenant, teams=[team])
    tasks = [
        task_enqueue(conversation=make_conversation(tenant=tenant), queue=queue, priority=1 + i % 3)
        for i in range(120)
    ]
    agents = [make_agent(tenant=tenant, team=team) for _ in range(30)]
    for agent in agents:
        make_available(agent)

    made = run_in_threads(6, lambda i: route_queue(queue_id=queue.pk, batch_size=1 + i % 4))

    assert sum(made) == 60  # 30 agents x 2 chats
    assert Offer.objects.count() == 60
    per_task = Counter(Offer.objects.values_list("task_id", flat=True))
    assert max(per_task.values()) == 1
    for state in AgentState.objects.annotate(
        pending=Count("agent__offers", filter=Q(agent__offers__status="pending"))
    ):
        assert state.engaged_chat == state.pending == 2
    # Queue order holds up to the batches in flight at the same instant: a router skips the rows
    # another router has locked, so near the end a later task may take the last free agent while
    # an earlier one is locked elsewhere. It stays at the head for the next free agent.
    ordered = [t.pk for t in sorted(tasks, key=lambda t: (t.priority, t.enqueued_at, t.pk))]
    offered = set(Task.objects.filter(status="offered").values_list("pk", flat=True))
    in_flight = 6 * 4  # routers x largest batch
    assert set(ordered[: 60 - in_flight]) <= offered <= set(ordered[: 60 + in_flight])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_an_offer_is_never_both_accepted_and_expired_nor_closed_twice(tenant):
    from datetime import timedelta

    team = make_team(tenant=tenant, max_chat=5)
    queue = make_queue(tenant=tenant, teams=[team])
    agent = make_agent(tenant=tenant, team=team)
    make_available(agent)
    for _ in range(5):
        task_enqueue(conversation=make_conversation(tenant=tenant), queue=queue)
    offers = list(Offer.objects.all())
    assert len(offers) == 5

    def race(i: int):
        if i == 0:
            for offer in offers:
                try:
                    offer_accept(offer_id=offer.pk, agent=agent)
                except Exception:
                    pass
        elif i == 1:
            return offers_expire_due(now=max(o.expires_at for o in offers) + timedelta(seconds=1))
        else:
            for offer in offers:
                task_close(task=offer.task, reason="race")

    run_in_threads(3, race)
    for offer in Offer.objects.all():
        assert offer.status in {"accepted", "expired", "withdrawn"}
    assert AgentState.objects.get(pk=agent.pk).engaged_chat == 0
    assert Task.objects.filter(status="closed").count() == 5
