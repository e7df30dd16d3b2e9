"""The router at scale: a decision with 15,000 agents and 500,000 waiting tasks against 10 and 10.

Seeds two tenants: "bench-scale-small" (10 available agents, 10 waiting tasks) and "bench-scale"
(15,000 agents of whom 7,500 available, 500,000 waiting chat tasks in one queue, seeded with
INSERT ... SELECT generate_series, about 2.5 minutes on a loaded 2-core machine). Then measures,
on the same database:

1. one decision (route_queue(limit=1, batch_size=1)) in each tenant, median of --decisions; the
   offer is undone untimed after each decision so every decision meets the same state; the ratio;
2. the EXPLAIN of the queue heads' query at scale (index scans only: no Sort, no Seq Scan);
3. with every agent of the big tenant at capacity: route_for_agent for an agent with no room and
   for the one agent with room for one more chat, a sweep pass with nothing due (timers_sweep),
   and queue_stats of each tenant; the EXPLAIN of every read of route_for_agent and of the
   sweep pass (no sequential scan of the big tables, no Sort);
4. the sweeps at that scale: 1,000 offers expiring at once, 10,000 relaxations due at once, and
   the inactivity sweep with 500,000 open conversations of which none is due.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_routing \
        .venv/bin/python bench/router_scale.py [--decisions 50] [--tasks 500000] [--keep]

--keep reuses the seeded big tenant of a previous run (same --tasks). The sweeps enqueue routing
runs after commit; CELERY_QUEUE=bench-router-scale keeps them away from a real worker's queue
(delete that Redis key afterwards).
"""

import argparse
import statistics

from routing_setup import (
    Timer,
    agents_create,
    analyze,
    django_setup,
    tasks_create,
    team_create,
    tenant_reset,
)

AGENTS = 15_000
AVAILABLE = 7_500


def tasks_seed(tenant, queue, count: int) -> None:
    """count waiting chat tasks on fresh conversations, in four INSERT ... SELECT statements."""
    from django.db import connection, transaction

    from channels_app.models import ChannelAsset

    asset = ChannelAsset.objects.filter(
        tenant=tenant, kind="chat"
    ).first() or ChannelAsset.objects.create(tenant=tenant, kind="chat", name="Bench chat")
    sql = """
    WITH c AS (
        INSERT INTO channels_app_customer (tenant_id, display_name, created_at)
        SELECT %(tenant)s, 'Customer ' || g, now() FROM generate_series(1, %(count)s) g
        RETURNING id
    ), i AS (
        INSERT INTO channels_app_customeridentity (tenant_id, customer_id, kind, address)
        SELECT %(tenant)s, c.id, 'chat', 'visitor-' || c.id FROM c
        RETURNING id, customer_id
    ), v AS (
        INSERT INTO channels_app_conversation (
            tenant_id, uuid, asset_id, customer_id, identity_id, kind, status, variables,
            wrap_up_code, opened_at, last_message_at, close_reason)
        SELECT %(tenant)s, gen_random_uuid(), %(asset)s, i.customer_id, i.id, 'chat', 'open',
               '{}', '', now(), now(), '' FROM i
        RETURNING id
    )
    INSERT INTO routing_task (
        tenant_id, conversation_id, queue_id, channel_type, priority, status, enqueued_at,
        queue_entered_at, requirements, relaxation_steps, relaxation_level, current_requirements,
        requirements_key, variables, close_reason)
    SELECT %(tenant)s, v.id, %(queue)s, 'chat', 1 + v.id %% 10, 'waiting',
           now() - interval '30 minutes' + (v.id - min(v.id) OVER ()) * interval '1 millisecond',
           now() - interval '30 minutes', '[]', '[]', 0, '[]', %(key)s, '{}', ''
      FROM v
    """
    from routing.services.skills import requirements_key

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "tenant": tenant.pk,
                "count": count,
                "asset": asset.pk,
                "queue": queue.pk,
                "key": requirements_key([]),
            },
        )


def tenant_setup(slug: str, *, agents: int, available: int, tasks: int, keep: bool):
    from routing.models import Queue, Task
    from tenants.models import Tenant

    if keep:
        tenant = Tenant.objects.filter(slug=slug).first()
        queue = tenant and Queue.objects.filter(tenant=tenant).first()
        if queue and Task.objects.filter(queue=queue, status="waiting").count() >= tasks:
            return tenant, queue
    tenant = tenant_reset(slug, rona_chat_seconds=600)
    team = team_create(tenant, max_chat=1 if tasks > agents else 50)
    agents_create(tenant, team, agents, available=available)
    queue = Queue.objects.create(tenant=tenant, name="Bench", channel_type="chat")
    queue.teams.set([team])
    if tasks > 1000:
        with Timer() as t:
            tasks_seed(tenant, queue, tasks)
        print(f"seeded {tasks:,} waiting tasks in {t.seconds:.0f} s", flush=True)
    else:
        tasks_create(tenant, queue, tasks)
    return tenant, queue


def undo_offers(queue) -> None:
    from django.db.models import F

    from routing.models import AgentState, Offer, Task, TaskEvent

    offers = list(Offer.objects.filter(task__queue=queue, status="pending"))
    TaskEvent.objects.filter(offer__in=offers).delete()
    Offer.objects.filter(pk__in=[o.pk for o in offers]).delete()
    Task.objects.filter(pk__in=[o.task_id for o in offers]).update(status="waiting")
    for o in offers:
        AgentState.objects.filter(pk=o.agent_id).update(engaged_chat=F("engaged_chat") - 1)


def decisions(queue, count: int) -> list[float]:
    from routing.services import route_queue

    times = []
    for i in range(count + 5):
        with Timer() as t:
            made = route_queue(queue_id=queue.pk, limit=1, batch_size=1)
        assert made == 1
        undo_offers(queue)
        if i >= 5:  # the first few warm the connection and caches
            times.append(t.seconds * 1000)
    return times


def timed(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        with Timer() as t:
            fn()
        times.append(t.seconds * 1000)
    return statistics.median(times)


# Tables that grow with the tenant: a plan must reach them through an index. (Queues, teams and
# policies are a handful of rows, where a sequential scan is the right plan.)
BIG_TABLES = (
    "routing_task",
    "routing_agentstate",
    "routing_offer",
    "routing_taskevent",
    "channels_app_conversation",
)


def _rows(line: str) -> int:
    """The planner's row estimate on one line of a plan."""
    return int(line.split(" rows=", 1)[1].split()[0]) if " rows=" in line else 0


def plans(label: str, fn) -> None:
    """EXPLAINs every read fn makes and says whether each reaches the big tables by index and
    sorts no more than a handful of rows (the ORM's default orderings of a few rows remain)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        fn()
    reads = [
        q["sql"] for q in ctx.captured_queries if q["sql"].lstrip()[:6] in ("SELECT", "WITH R")
    ]
    reads += [q["sql"] for q in ctx.captured_queries if q["sql"].lstrip().startswith("WITH due")]
    bad = []
    with connection.cursor() as cursor:
        for sql in reads:
            cursor.execute("EXPLAIN " + sql)
            plan = [row[0] for row in cursor.fetchall()]
            bad += [
                f"{line.strip()}  <-  {sql.strip()[:90]}"
                for line in plan
                if ("Seq Scan" in line and any(f" on {t} " in line + " " for t in BIG_TABLES))
                or ("Sort  (" in line and _rows(line) >= 1000)
            ]
    print(
        f"plans of {label}: {len(reads)} reads, {len(ctx.captured_queries)} statements; "
        f"index scans only on the big tables: {'yes' if not bad else 'NO'}",
        flush=True,
    )
    for line in bad:
        print("   ", line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=50)
    parser.add_argument("--tasks", type=int, default=500_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    django_setup()
    import os

    from django.db import connection
    from django.db.models import F

    from routing.models import AgentState
    from routing.selectors import queue_stats
    from routing.services import route_for_agent, timers_sweep
    from routing.services.router import HEADS_SQL

    small, small_queue = tenant_setup(
        "bench-scale-small", agents=10, available=10, tasks=10, keep=False
    )
    big, big_queue = tenant_setup(
        "bench-scale", agents=AGENTS, available=AVAILABLE, tasks=args.tasks, keep=args.keep
    )
    # A previous run (--keep) may have left agents in other states: back to 7,500 available.
    ids = list(AgentState.objects.filter(tenant=big).order_by("pk").values_list("pk", flat=True))
    AgentState.objects.filter(pk__in=ids[:AVAILABLE]).update(state="available", engaged_chat=0)
    AgentState.objects.filter(pk__in=ids[AVAILABLE:]).update(state="signed_out", engaged_chat=0)
    analyze()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)

    small_ms = statistics.median(decisions(small_queue, args.decisions))
    big_ms = statistics.median(decisions(big_queue, args.decisions))
    print(f"decision, 10 agents / 10 waiting tasks, median:          {small_ms:8.2f} ms")
    print(
        f"decision, {AGENTS:,} agents ({AVAILABLE:,} available) / {args.tasks:,} tasks: "
        f"{big_ms:8.2f} ms"
    )
    print(f"ratio: {big_ms / small_ms:.2f}", flush=True)

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + HEADS_SQL, {"queue": big_queue.pk})
        plan = "\n".join(row[0] for row in cursor.fetchall())
    print("EXPLAIN of the queue heads at scale:\n" + plan)
    bad = [w for w in ("Seq Scan", "Sort", "HashAggregate", "Unique") if w in plan]
    print(f"index scans only: {'yes' if not bad else 'NO: ' + ', '.join(bad)}", flush=True)

    # Every agent of the big tenant at capacity, except one with room for one more chat.
    AgentState.objects.filter(tenant=big).update(engaged_chat=F("max_chat"))
    full = AgentState.objects.filter(tenant=big, state="available").order_by("pk").first()
    spare = AgentState.objects.filter(tenant=big, state="available").order_by("-pk").first()
    analyze()

    print(
        f"route_for_agent, agent with no room:           {timed(lambda: route_for_agent(agent_id=full.pk)):8.2f} ms"
    )
    AgentState.objects.filter(pk=spare.pk).update(engaged_chat=0)
    spare_ms = []
    for _ in range(5):
        with Timer() as t:
            assert route_for_agent(agent_id=spare.pk) == 1
        spare_ms.append(t.seconds * 1000)
        undo_offers(big_queue)
        AgentState.objects.filter(pk=spare.pk).update(engaged_chat=0)
    print(f"route_for_agent, agent with room (one offer):  {statistics.median(spare_ms):8.2f} ms")
    AgentState.objects.filter(pk=spare.pk).update(engaged_chat=0)
    plans("route_for_agent, agent with room", lambda: route_for_agent(agent_id=spare.pk))
    undo_offers(big_queue)
    # Nothing due and nobody with room in either tenant: the sweep's fixed cost.
    AgentState.objects.filter(tenant__in=[small, big]).update(engaged_chat=F("max_chat"))
    print(f"sweep pass with nothing due:                   {timed(timers_sweep):8.2f} ms")
    plans("sweep pass with nothing due", timers_sweep)
    print(
        f"queue_stats, tenant with 10 tasks:             {timed(lambda: queue_stats(tenant=small)):8.2f} ms"
    )
    print(
        f"queue_stats, tenant with {args.tasks:,} tasks:     {timed(lambda: queue_stats(tenant=big)):8.2f} ms"
    )
    AgentState.objects.filter(tenant__in=[small, big]).update(engaged_chat=0)
    sweeps(big, big_queue)


def sweeps(tenant, queue) -> None:
    """The sweeps at scale: 1,000 offers expiring at once, 10,000 relaxations, and the inactivity
    sweep with 500,000 open conversations of which none is due."""
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from channels_app.services import conversations_close_inactive
    from routing.models import AgentState, Offer, Skill, Task
    from routing.services import offers_expire_due, route_queue, tasks_relax_due
    from routing.services.skills import relaxation_resolve, requirements_key, requirements_resolve

    assert route_queue(queue_id=queue.pk, limit=1000) == 1000
    due = Offer.objects.filter(tenant=tenant, status="pending").order_by("-expires_at").first()
    with Timer() as t:
        expired = offers_expire_due(now=due.expires_at + timedelta(seconds=1))
    print(f"RONA sweep, {expired:,} offers expiring at once:      {t.seconds * 1000:8.0f} ms")
    AgentState.objects.filter(tenant=tenant, state="rona").update(state="available")
    AgentState.objects.filter(tenant=tenant).update(engaged_chat=0)

    skill = Skill.objects.get_or_create(tenant=tenant, name="Tech", type="proficiency")[0]
    requirements = requirements_resolve(
        tenant=tenant, requirements=[{"skill": "Tech", "operator": ">=", "value": 8}]
    )
    steps = relaxation_resolve(
        tenant=tenant,
        requirements=requirements,
        steps=[{"after_seconds": 10, "skill": skill.name, "action": "drop"}],
    )
    ids = list(
        Task.objects.filter(queue=queue, status="waiting")
        .order_by("-pk")
        .values_list("pk", flat=True)[:10_000]
    )
    now = timezone.now()
    Task.objects.filter(pk__in=ids).update(
        requirements=requirements,
        current_requirements=requirements,
        relaxation_steps=steps,
        requirements_key=requirements_key(requirements),
        enqueued_at=now - timedelta(seconds=11),
        next_relaxation_at=now - timedelta(seconds=1),
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE routing_task")
    with Timer() as t:
        relaxed = tasks_relax_due(now=now)
    print(f"relaxation sweep, {relaxed:,} tasks due at once:       {t.seconds * 1000:8.0f} ms")

    with Timer() as t:
        closed = conversations_close_inactive()
    print(f"inactivity sweep, 500,000 open, {closed} due:           {t.seconds * 1000:8.0f} ms")


if __name__ == "__main__":
    main()
