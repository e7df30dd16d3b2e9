"""Profile: what one new conversation costs the inbound pipeline, stage by stage.

Runs N signed WhatsApp webhooks from new customers through the real code in this process (the
webhook view through Django's test client, then the Celery tasks executed in line, as a worker
would run them) on PostgreSQL, with a local fake WhatsApp API for the greeting. For each stage it
prints the SQL queries and the CPU and wall milliseconds per conversation (time spent in a nested
stage is counted in that stage only), and the Celery tasks run per conversation.

    .venv/bin/python bench/pipeline_profile.py --conversations 200

It recreates the database bench_pipeline on the local PostgreSQL. Stages:
webhook (verify, store the raw event), normalize (customer, conversation, message), flow (the
entry point's flow up to its first wait: greeting recorded, task queued), route (the router's
offer and its push), deliver (the greeting's provider call), task (the rest of the Celery task:
the event's status, commits, the follow-ups' bookkeeping). In the webhook stage, Django's test
client and the request's middleware are counted too.
"""

import argparse
import os
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import desktop_latency as base  # noqa: E402  (seeding, database and webhook helpers)
from pipeline_env import bench_env  # noqa: E402

base.ENV.update(bench_env())

base.DB_NAME = "bench_pipeline"
base.ENV.update(
    {
        "DATABASE_URL": f"{base.PG}/bench_pipeline",
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9"),
        "CELERY_EAGER": "true",
    }
)

STAGES = {
    "webhook": ("channels_app.webhooks", "webhook"),
    "task": ("channels_app.tasks", "process_inbound_event"),
    "normalize": ("channels_app.services.inbound", "inbound_event_process"),
    "flow": ("routing.flows.services", "flow_inbound_message_handle"),
    "route": ("routing.services.router", "route_queue"),
    "deliver": ("channels_app.services.outbound", "message_deliver"),
}


class Meter:
    """Exclusive CPU ms, wall ms and queries per stage, attributed to the innermost stage."""

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.cpu: dict[str, float] = defaultdict(float)
        self.wall: dict[str, float] = defaultdict(float)
        self.queries: Counter = Counter()
        self.log: list[tuple[str, str]] | None = None
        self._mark: list[tuple[float, float]] = []

    def _charge(self) -> None:
        now_cpu, now_wall = time.thread_time(), time.perf_counter()
        if self.stack:
            cpu0, wall0 = self._mark[-1]
            self.cpu[self.stack[-1]] += now_cpu - cpu0
            self.wall[self.stack[-1]] += now_wall - wall0
        return now_cpu, now_wall

    def enter(self, name: str) -> None:
        marks = self._charge()
        self.stack.append(name)
        self._mark.append(marks)

    def leave(self) -> None:
        self._charge()
        self.stack.pop()
        self._mark.pop()
        if self._mark:
            self._mark[-1] = (time.thread_time(), time.perf_counter())

    def wrap(self, name: str, func):
        def wrapped(*args, **kwargs):
            if threading.current_thread() is not threading.main_thread():
                return func(*args, **kwargs)
            self.enter(name)
            try:
                return func(*args, **kwargs)
            finally:
                self.leave()

        wrapped.__wrapped__ = func
        return wrapped

    def query(self, execute, sql, params, many, context):
        if threading.current_thread() is threading.main_thread():
            stage = self.stack[-1] if self.stack else "other"
            self.queries[stage] += 1
            if self.log is not None:
                self.log.append((stage, " ".join(sql.split())[:220]))
        return execute(sql, params, many, context)


def instrument(meter: Meter) -> None:
    """Wraps each stage's entry function where its callers look it up."""
    import channels_app.services as channel_services
    import routing.flows.events as flow_events
    import routing.services as routing_services
    import routing.services.router as router
    from channels_app import tasks as channel_tasks
    from channels_app.services import inbound, outbound
    from routing.flows import services as flow_services
    from routing.services import tasks as routing_tasks

    inbound.inbound_event_process = meter.wrap("normalize", inbound.inbound_event_process)
    channel_services.inbound_event_process = inbound.inbound_event_process
    flow_services.flow_inbound_message_handle = meter.wrap(
        "flow", flow_services.flow_inbound_message_handle
    )
    router.route_queue = meter.wrap("route", router.route_queue)
    routing_services.route_queue = router.route_queue
    outbound.message_deliver = meter.wrap("deliver", outbound.message_deliver)
    channel_services.message_deliver = outbound.message_deliver
    task = channel_tasks.process_inbound_event
    task.run = meter.wrap("task", task.run)
    del flow_events, channel_tasks, routing_tasks  # looked up at call time; nothing else to wrap


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument(
        "--cprofile", type=int, default=0, help="also print the N costliest functions (cProfile)"
    )
    parser.add_argument(
        "--sort", default="tottime", help="the cProfile order: tottime or cumulative"
    )
    parser.add_argument(
        "--sql", action="store_true", help="also print the queries of the last conversation"
    )
    args = parser.parse_args()

    print(f"database {base.DB_NAME}: recreate and migrate", flush=True)
    base.recreate_database()
    base.django_setup()
    from celery.signals import task_prerun
    from django.db import connection
    from django.test import Client

    from channels_app.sandbox.fake_provider import FakeProvider, start_in_thread

    provider_server, provider, provider_url = start_in_thread(FakeProvider())
    total = args.conversations + args.warmup
    max_social = max(3, total // args.agents + 2)
    data = base.seed(
        agents=args.agents, sockets=args.agents, max_social=max_social, provider_url=provider_url
    )
    asset = data["asset"]
    webhooks = base.signed_webhooks(asset, "http://testserver", "Profile", total, first_number=1)
    client = Client()
    tasks: Counter = Counter()
    task_prerun.connect(lambda sender=None, **_: tasks.update([sender.name]), weak=False)

    def post(signed) -> None:
        meter.enter("webhook")
        try:
            response = client.post(
                signed.url.replace("http://testserver", ""),
                data=signed.body,
                content_type="application/json",
                headers={k: v for k, v in signed.headers.items() if k.lower() != "content-type"},
            )
        finally:
            meter.leave()
        if response.status_code != 200:
            raise RuntimeError(f"webhook answered {response.status_code}: {response.content!r}")

    meter = Meter()
    instrument(meter)
    for _, signed in webhooks[: args.warmup]:
        post(signed)
    meter.__init__()
    tasks.clear()
    profiler = None
    if args.cprofile:
        import cProfile

        profiler = cProfile.Profile(time.thread_time)
        profiler.enable()
    with connection.execute_wrapper(meter.query):
        started_cpu, started = time.thread_time(), time.perf_counter()
        for _, signed in webhooks[args.warmup : -1]:
            post(signed)
        meter.log = [] if args.sql else None
        post(webhooks[-1][1])
        cpu_total, wall_total = time.thread_time() - started_cpu, time.perf_counter() - started
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.cprofile)
    provider_server.shutdown()
    for stage, sql in meter.log or []:
        print(f"{stage:<10} {sql}")

    from routing.models import Offer

    n = args.conversations
    offers = Offer.objects.count()
    print(
        f"\n{n} new conversations (after {args.warmup} warm-up), {args.agents} available agents; "
        f"offers made: {offers}; greetings at the fake provider: {len(provider.sent_to('whatsapp'))}"
    )
    print(f"{'stage':<10} {'queries':>8} {'CPU ms':>8} {'wall ms':>8}   (per conversation)")
    for stage in STAGES:
        print(
            f"{stage:<10} {meter.queries[stage] / n:>8.1f} {meter.cpu[stage] * 1000 / n:>8.2f} "
            f"{meter.wall[stage] * 1000 / n:>8.2f}"
        )
    print(
        f"{'total':<10} {sum(meter.queries.values()) / n:>8.1f} {cpu_total * 1000 / n:>8.2f} "
        f"{wall_total * 1000 / n:>8.2f}"
    )
    worker = sum(meter.cpu[s] for s in meter.cpu if s != "webhook") * 1000 / n
    print(f"\nworker CPU ms per conversation (every stage but the webhook): {worker:.2f}")
    print("Celery tasks per conversation:")
    for name, count in sorted(tasks.items()):
        print(f"  {name}: {count / n:.2f}")
    print(f"  total: {sum(tasks.values()) / n:.2f}")


if __name__ == "__main__":
    main()
