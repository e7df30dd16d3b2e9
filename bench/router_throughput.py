"""Assignment throughput with concurrent router processes on PostgreSQL.

N real OS processes (default 4) route the same queue at once until every agent is full:
2,000 agents x 3 chats = 6,000 assignments over 6,000 waiting tasks. At the end it checks that
no task was offered twice and no agent exceeds capacity.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_routing REDIS_URL=redis://127.0.0.1:6379/5 \
        .venv/bin/python bench/router_throughput.py [--processes 4] [--agents 2000] [--capacity 3]
"""

import argparse
import multiprocessing as mp
import time

from routing_setup import (
    agents_create,
    analyze,
    django_setup,
    tasks_create,
    team_create,
    tenant_reset,
    tenants_wipe,
)


def router_process(queue_id: int, start, results) -> None:
    django_setup()
    from django.db import connections

    from routing.services import route_queue

    start.wait()
    began = time.perf_counter()
    made = 0
    idle_rounds = 0
    while idle_rounds < 3:
        count = route_queue(queue_id=queue_id)
        made += count
        idle_rounds = 0 if count else idle_rounds + 1
    results.put((made, time.perf_counter() - began))
    connections.close_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--agents", type=int, default=2000)
    parser.add_argument("--capacity", type=int, default=3)
    args = parser.parse_args()
    django_setup()
    from django.db import connection, connections
    from django.db.models import Count, F, Q

    from routing.models import AgentState, Offer, Queue

    tenants_wipe()
    tenant = tenant_reset("bench-throughput")
    team = team_create(tenant, max_chat=args.capacity)
    agents_create(tenant, team, args.agents)
    queue = Queue.objects.create(tenant=tenant, name="Bench", channel_type="chat")
    queue.teams.set([team])
    expected = args.agents * args.capacity
    tasks_create(tenant, queue, expected + 500)
    analyze()
    connections.close_all()

    ctx = mp.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=router_process, args=(queue.pk, start, results))
        for _ in range(args.processes)
    ]
    for p in procs:
        p.start()
    time.sleep(3)  # let every process import Django and connect
    began = time.perf_counter()
    start.set()
    per_process = [results.get(timeout=600) for _ in procs]
    wall = time.perf_counter() - began
    for p in procs:
        p.join()

    made = sum(m for m, _ in per_process)
    offers = Offer.objects.filter(tenant=tenant)
    double = (
        offers.filter(status="pending")
        .values("task_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    over = (
        AgentState.objects.filter(tenant=tenant)
        .filter(
            Q(engaged_chat__gt=F("max_chat"))
            | Q(engaged_email__gt=F("max_email"))
            | Q(engaged_social__gt=F("max_social"))
        )
        .count()
    )
    mismatched = (
        AgentState.objects.filter(tenant=tenant)
        .annotate(pending=Count("agent__offers", filter=Q(agent__offers__status="pending")))
        .exclude(engaged_chat=F("pending"))
        .count()
    )
    print(f"processes:              {args.processes}")
    print(f"assignments:            {made} (expected {expected}, offers stored {offers.count()})")
    print(f"wall time:              {wall:.2f} s")
    print(f"throughput:             {made / wall:.0f} assignments/s")
    print(f"per process:            {', '.join(f'{m} in {s:.1f}s' for m, s in per_process)}")
    print(f"double offers:          {double}")
    print(f"capacity breaches:      {over}")
    print(f"engaged != pending:     {mismatched}")
    ok = made == expected and double == 0 and over == 0 and mismatched == 0
    print("RESULT:", "OK" if ok else "FAILED")
    connection.close()
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
