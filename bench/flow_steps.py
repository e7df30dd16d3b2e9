"""Benchmark: flow steps per second for the shipped WhatsApp inbound flow.

Two figures:
- engine: the dry run of the flow (the node walk, variables, templates; no writes);
- live: real runs on PostgreSQL, each storing its run and steps, sending the greeting (an outbound
  message row) and queueing a task through routing, one run per new conversation.

Live runs happen inside one transaction that is rolled back at the end, so nothing is delivered
and the bench database stays as it was.

    TEST_DATABASE_NAME=bench_flows REDIS_URL=redis://127.0.0.1:6379/6 \\
        .venv/bin/python bench/flow_steps.py --runs 300

It uses (and on first use migrates) the database TEST_DATABASE_NAME on DATABASE_URL's server.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench")
os.environ.setdefault("TEST_DATABASE_NAME", "bench_flows")

import django

django.setup()

from django.db import connection, transaction
from django.utils import timezone

TEXTS = [
    "Hola, necesito ayuda con mi pedido",
    "Hallo, ich brauche Hilfe",
    "Hello, where is my order?",
]


class Rollback(Exception):
    pass


def _setup():
    from channels_app.models import ChannelAsset
    from routing.flows import services
    from routing.models import EntryPoint, Queue
    from tenants.services import tenant_create

    tenant = tenant_create(name="Bench Co", slug=f"bench-{int(time.time() * 1000)}")
    for node in ("task", "engage"):
        services.node_authorization_authorize(tenant=tenant, node=node, user=None)
    Queue.objects.create(tenant=tenant, name="Support", channel_type="social")
    Queue.objects.create(tenant=tenant, name="Default", channel_type="social", default=True)
    asset = ChannelAsset.objects.create(
        tenant=tenant,
        kind="whatsapp",
        name="Bench WhatsApp",
        wa_phone_number_id=f"9{int(time.time() * 1000)}",
    )
    flow = services.flow_import_template(tenant=tenant, template_name="whatsapp_inbound")
    EntryPoint.objects.create(
        tenant=tenant,
        name="Bench in",
        channel_type="social",
        social_channel_type="whatsapp",
        asset=asset,
        flow=flow,
    )
    return tenant, asset, flow


def _conversations(asset, count: int):
    from channels_app.models import Conversation, Customer, CustomerIdentity, Message

    now = timezone.now()
    customers = Customer.objects.bulk_create(
        [Customer(tenant=asset.tenant, display_name=f"Customer {i}") for i in range(count)]
    )
    identities = CustomerIdentity.objects.bulk_create(
        [
            CustomerIdentity(
                tenant=asset.tenant, customer=c, kind="whatsapp", address=f"49151{i:07d}"
            )
            for i, c in enumerate(customers)
        ]
    )
    conversations = Conversation.objects.bulk_create(
        [
            Conversation(
                tenant=asset.tenant,
                asset=asset,
                customer=c,
                identity=ident,
                kind="whatsapp",
                last_inbound_at=now,
                last_message_at=now,
            )
            for c, ident in zip(customers, identities, strict=True)
        ]
    )
    messages = Message.objects.bulk_create(
        [
            Message(
                tenant=asset.tenant,
                conversation=conv,
                asset=asset,
                direction="in",
                author_kind="customer",
                text=TEXTS[i % len(TEXTS)],
                status="received",
            )
            for i, conv in enumerate(conversations)
        ]
    )
    return list(zip(conversations, messages, strict=True))


def bench_engine(tenant, definition, runs: int) -> tuple[float, int]:
    from routing.flows.services import flow_dry_run

    steps = 0
    started = time.perf_counter()
    for i in range(runs):
        steps += len(
            flow_dry_run(
                tenant=tenant, definition=definition, text=TEXTS[i % len(TEXTS)], validate=False
            )["path"]
        )
    return time.perf_counter() - started, steps


def bench_live(asset, version, runs: int) -> tuple[float, int, list[float]]:
    from routing.flows.models import FlowRun
    from routing.flows.services import flow_run_start

    pairs = _conversations(asset, runs)
    latencies = []
    started = time.perf_counter()
    for conversation, message in pairs:
        t0 = time.perf_counter()
        run = flow_run_start(
            version=version, conversation=conversation, trigger="inbound_message", message=message
        )
        latencies.append(time.perf_counter() - t0)
        if run.status != FlowRun.Status.COMPLETED:
            raise SystemExit(f"run {run.pk} ended {run.status}: {run.error}")
    elapsed = time.perf_counter() - started
    steps = sum(
        FlowRun.objects.filter(conversation__in=[c for c, _ in pairs]).values_list(
            "step_count", flat=True
        )
    )
    return elapsed, steps, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=True)
    from routing.flows.selectors import flow_version_current

    try:
        with transaction.atomic():
            tenant, asset, flow = _setup()
            version = flow_version_current(flow=flow)
            bench_engine(tenant, version.definition, 20)  # warm up
            elapsed, steps = bench_engine(tenant, version.definition, args.runs)
            print(
                f"engine (dry run): {args.runs} runs, {steps} steps in {elapsed:.2f} s = "
                f"{steps / elapsed:,.0f} steps/s, {args.runs / elapsed:,.0f} runs/s"
            )
            elapsed, steps, latencies = bench_live(asset, version, args.runs)
            latencies.sort()
            p95 = latencies[int(len(latencies) * 0.95) - 1]
            print(
                f"live (PostgreSQL): {args.runs} runs, {steps} steps in {elapsed:.2f} s = "
                f"{steps / elapsed:,.0f} steps/s, {args.runs / elapsed:,.0f} runs/s; "
                f"run latency median {statistics.median(latencies) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"
            )
            raise Rollback
    except Rollback:
        pass


if __name__ == "__main__":
    main()
