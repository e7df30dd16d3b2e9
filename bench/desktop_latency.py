"""Benchmark: offer latency on the agent desktop, and memory per idle desktop socket.

Production shape on one machine: one uvicorn process (the ASGI app with the Redis channel layer),
Celery worker(s) on a private queue, PostgreSQL and Redis. Measures:

- offer latency: from a signed WhatsApp webhook's 200 to the routing.offered frame for that
  conversation on its agent's desktop socket, with N agents connected and a steady rate of new
  conversations. The path is webhook view -> Celery (normalize, flow run: greeting + queue_task)
  -> router -> offer -> Redis channel layer -> uvicorn -> socket;
- beside it, a bare Redis publish -> subscriber hop (redis-py asyncio pub/sub) in the same run,
  once on the idle machine and once during the load;
- memory per idle desktop socket: VmRSS of the uvicorn process before and after opening M
  authenticated sockets, one per agent, (after - before) / M.

    .venv/bin/python bench/desktop_latency.py        # about 75 s; see docs/perf-desktop.md

It recreates the database bench_desktop on the local PostgreSQL, uses Redis db 8 (flushed at the
start and the end) with the channel layer prefix "bench" and a private Celery queue, and writes the
figures to bench/results/desktop_latency.json. Everything listens on 127.0.0.1.
"""

import argparse
import asyncio
import json
import math
import os
import platform
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from pipeline_env import bench_env

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "bench_desktop"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")
QUEUE = f"bench-desktop-{uuid.uuid4().hex[:8]}"
RESULTS = ROOT / "bench" / "results" / "desktop_latency.json"

ENV = {
    **os.environ,
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DATABASE_URL": f"{PG}/{DB_NAME}",
    "REDIS_URL": REDIS_URL,
    "CELERY_EAGER": "false",
    "CELERY_QUEUE": QUEUE,
    "EMBEDDED_TICKER": "false",
    "CHANNEL_LAYER_PREFIX": "bench",
    "SANDBOX_PROVIDER": "false",
    # The fake provider the bench starts listens on loopback.
    "OUTBOUND_ALLOWED_HOSTS": "127.0.0.1",
    "DEBUG": "false",
    "LOG_LEVEL": "WARNING",
}
ENV.pop("TEST_DATABASE_NAME", None)
# A deployment refuses to start without its keys and a real mail backend: throwaway ones, so the
# bench runs from a plain shell.
ENV.update(bench_env())


# --- small helpers -------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summary_ms(seconds: list[float]) -> dict:
    if not seconds:
        return {"n": 0}
    return {
        "n": len(seconds),
        "p50_ms": round(1000 * statistics.median(seconds), 2),
        "p99_ms": round(1000 * percentile(seconds, 99), 2),
        "max_ms": round(1000 * max(seconds), 2),
        "min_ms": round(1000 * min(seconds), 2),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def raise_open_files_limit(needed: int) -> int:
    """Sockets are file descriptors: this process and the uvicorn child (which inherits it) need one each."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = needed if hard == resource.RLIM_INFINITY else min(max(soft, needed), hard)
    if wanted > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft < needed:
        sys.exit(f"RLIMIT_NOFILE is {soft} (hard limit {hard}); {needed} open files are needed")
    return soft


# --- database and data -------------------------------------------------------------------------


def recreate_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=ENV, check=True
    )


def django_setup() -> None:
    os.environ.update(ENV)
    import django

    django.setup()


def seed(*, agents: int, sockets: int, max_social: int, provider_url: str) -> dict:
    """One tenant as a newcomer sets it up: a WhatsApp asset whose entry point runs the shipped
    WhatsApp inbound flow into the Support queue. The first `agents` agents are on the team the
    queue serves and available; the rest (up to `sockets`) are on a back-office team it does not
    serve. Every agent gets a signed-in session. Returns what the load needs."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore

    from channels_app.models import ChannelAsset, ChannelKind
    from routing.flows.models import AuthorizableNode
    from routing.flows.services import flow_import_template, node_authorization_authorize
    from routing.models import EntryPoint, Queue
    from routing.services import agent_state_set
    from tenants.models import Agent, MultimediaProfile, Site, Team, TenantPolicy, User
    from tenants.roles import CareProfile
    from tenants.services import membership_create, tenant_create

    tenant = tenant_create(name="Bench Desktop", slug="bench-desktop")
    TenantPolicy.objects.filter(tenant=tenant).update(rona_social_seconds=60)
    asset = ChannelAsset.objects.create(
        tenant=tenant,
        kind=ChannelKind.WHATSAPP,
        name="Bench WhatsApp",
        wa_phone_number_id="910000000000001",
        wa_business_account_id="910000000000002",
        app_secret="bench-app-secret-0123456789",
        verify_token="bench-verify",
        access_token="bench-access-token-EAAG0123456789",
        api_base_url=f"{provider_url}/whatsapp",
    )
    for node in (AuthorizableNode.TASK, AuthorizableNode.ENGAGE):
        node_authorization_authorize(tenant=tenant, node=node, user=None)
    flow = flow_import_template(tenant=tenant, template_name="whatsapp_inbound")
    EntryPoint.objects.create(
        tenant=tenant,
        name="WhatsApp entry",
        channel_type="social",
        social_channel_type="whatsapp",
        asset=asset,
        flow=flow,
    )

    def team(name: str) -> Team:
        profile = MultimediaProfile.objects.create(
            tenant=tenant,
            name=f"{name} profile",
            max_chat=3,
            max_email=1,
            max_social=max_social,
            blending="blended",
        )
        site = Site.objects.create(tenant=tenant, name=f"{name} site", multimedia_profile=profile)
        return Team.objects.create(tenant=tenant, site=site, name=name)

    support, back_office = team("Support team"), team("Back office team")
    queue = Queue.objects.create(tenant=tenant, name="Support", channel_type="social")
    queue.teams.set([support])

    total = max(agents, sockets)
    password = make_password(None)
    users = User.objects.bulk_create(
        [User(email=f"agent{i:04d}@bench-desktop.test", password=password) for i in range(total)],
        batch_size=1000,
    )
    for user in users:
        membership_create(user=user, tenant=tenant, care_profile=CareProfile.AGENT)
    rows = []
    for i, user in enumerate(users):
        on = support if i < agents else back_office
        rows.append(
            Agent(
                tenant=tenant,
                user=user,
                team=on,
                site=on.site,
                multimedia_profile=on.site.multimedia_profile,
                display_name=f"Agent {i:04d}",
            )
        )
    created = Agent.objects.bulk_create(rows, batch_size=1000)
    for agent in created[:agents]:
        agent_state_set(agent=agent, state="available")

    cookies: list[str] = []
    for user in users:
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        cookies.append(session.session_key)
    return {"asset": asset, "cookies": cookies, "agent_ids": [a.pk for a in created]}


# --- processes ---------------------------------------------------------------------------------


class Processes:
    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.started: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.logdir / f"{name}.log", "wb")
        process = subprocess.Popen(
            args, cwd=ROOT, env=ENV, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.started.append((name, process))
        return process

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.logdir / f"{name}.log"
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            if path.exists()
            else ""
        )

    def check(self) -> None:
        for name, process in self.started:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {process.returncode}:\n{self.log_tail(name)}"
                )

    def stop(self) -> None:
        for _, process in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for _, process in self.started:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def start_server(processes: Processes, port: int) -> subprocess.Popen:
    server = processes.start(
        "uvicorn",
        [
            sys.executable,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--lifespan",
            "off",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
    )
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        processes.check()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"uvicorn did not answer /healthz:\n{processes.log_tail('uvicorn')}")


def start_workers(processes: Processes, *, pool: str, concurrency: int) -> subprocess.Popen:
    return processes.start(
        "celery",
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            QUEUE,
            "--pool",
            pool,
            "-c",
            str(concurrency),
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"{QUEUE}@%h",
        ],
    )


# --- sockets -----------------------------------------------------------------------------------


class Desk:
    """Desktop sockets of the benchmark and the offers they receive, stamped on arrival."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.offers: dict[str, float] = {}
        self.offers_wall: dict[str, float] = {}
        self.offer_agents: dict[str, int] = {}
        self.sockets: list = []
        self.readers: list[asyncio.Task] = []
        self.connect_seconds: list[float] = []

    async def open(self, cookie: str):
        from websockets.asyncio.client import connect

        started = time.perf_counter()
        ws = await connect(
            f"ws://127.0.0.1:{self.port}/ws/desktop/",
            origin=f"http://127.0.0.1:{self.port}",
            additional_headers={"Cookie": f"sessionid={cookie}"},
            open_timeout=30,
            ping_interval=None,
            max_queue=64,
        )
        hello = json.loads(await asyncio.wait_for(ws.recv(), timeout=30))
        if hello.get("type") != "snapshot":
            raise RuntimeError(f"expected the snapshot first, got {hello!r}")
        self.connect_seconds.append(time.perf_counter() - started)
        return ws

    async def open_many(self, cookies: list[str], *, parallel: int) -> list:
        gate = asyncio.Semaphore(parallel)

        async def one(cookie: str):
            async with gate:
                return await self.open(cookie)

        opened = await asyncio.gather(*(one(c) for c in cookies))
        self.sockets.extend(opened)
        return opened

    def listen(self, sockets: list) -> None:
        for ws in sockets:
            self.readers.append(asyncio.create_task(self._read(ws)))

    async def _read(self, ws) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for raw in ws:
                arrived = time.perf_counter()
                frame = json.loads(raw)
                if frame.get("type") == "event" and frame.get("event") == "routing.offered":
                    payload = frame.get("payload") or {}
                    name = payload.get("customer_name", "")
                    self.offers.setdefault(name, arrived)
                    self.offers_wall.setdefault(name, time.time())
                    self.offer_agents[name] = payload.get("agent_id")
        except ConnectionClosed:
            pass

    async def close(self, sockets: list | None = None) -> None:
        targets = self.sockets if sockets is None else sockets
        await asyncio.gather(*(ws.close() for ws in targets), return_exceptions=True)
        if sockets is None:
            for reader in self.readers:
                reader.cancel()
            await asyncio.gather(*self.readers, return_exceptions=True)
            self.sockets, self.readers = [], []
        else:
            self.sockets = [ws for ws in self.sockets if ws not in targets]


# --- Redis hop ---------------------------------------------------------------------------------


async def redis_hop(*, messages: int, spacing: float) -> list[float]:
    """Publish -> subscriber latency of a bare Redis pub/sub hop, one message every `spacing` s."""
    import redis.asyncio as aioredis

    channel = f"bench-desktop-hop-{uuid.uuid4().hex[:8]}"
    subscriber = aioredis.Redis.from_url(REDIS_URL)
    publisher = aioredis.Redis.from_url(REDIS_URL)
    pubsub = subscriber.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel)
    while await pubsub.get_message(timeout=0.2) is not None:
        pass
    await publisher.ping()
    hops: list[float] = []

    async def receive() -> None:
        while len(hops) < messages:
            message = await pubsub.get_message(timeout=1.0)
            if message is not None:
                hops.append((time.perf_counter_ns() - int(message["data"])) / 1e9)

    receiver = asyncio.create_task(receive())
    start = time.perf_counter()
    for i in range(messages):
        await asyncio.sleep(max(0.0, start + i * spacing - time.perf_counter()))
        await publisher.publish(channel, str(time.perf_counter_ns()))
    try:
        await asyncio.wait_for(receiver, timeout=10)
    except asyncio.TimeoutError:
        pass
    await pubsub.unsubscribe(channel)
    await pubsub.aclose()
    await subscriber.aclose()
    await publisher.aclose()
    return hops


# --- load --------------------------------------------------------------------------------------


async def post_conversations(
    *,
    base_url: str,
    webhooks: list[tuple[str, object]],
    rate: float,
    sent: dict[str, float],
    failures: list[str],
) -> float:
    """Open loop: one new conversation every 1/rate s, whatever the answers do. Returns the span."""
    import httpx

    async def one(client, planned: float, name: str, signed) -> None:
        await asyncio.sleep(max(0.0, planned - time.perf_counter()))
        try:
            response = await client.post(signed.url, content=signed.body, headers=signed.headers)
        except httpx.HTTPError as exc:
            failures.append(f"{name}: {exc!r}")
            return
        if response.status_code == 200:
            sent[name] = time.perf_counter()
        else:
            failures.append(f"{name}: HTTP {response.status_code}")

    start = time.perf_counter() + 0.2
    async with httpx.AsyncClient(
        base_url=base_url,
        timeout=30,
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
    ) as client:
        await asyncio.gather(
            *(
                one(client, start + i / rate, name, signed)
                for i, (name, signed) in enumerate(webhooks)
            )
        )
    return time.perf_counter() - start


async def wait_for_offers(desk: Desk, names: list[str], timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline and any(n not in desk.offers for n in names):
        await asyncio.sleep(0.1)


def signed_webhooks(
    asset, base_url: str, prefix: str, count: int, *, first_number: int
) -> list[tuple[str, object]]:
    """One new customer each (own number, unique name): the name finds the offer frame."""
    from channels_app.sandbox.customer import customer_webhook

    out = []
    for i in range(count):
        name = f"{prefix} Customer {i:04d}"
        out.append(
            (
                name,
                customer_webhook(
                    asset,
                    base_url=base_url,
                    sender=f"49170{first_number + i:08d}",
                    text=f"Hallo, Frage Nummer {i}",
                    name=name,
                ),
            )
        )
    return out


async def run(args, data: dict, server_pid: int, port: int, processes: Processes) -> dict:
    base_url = f"http://127.0.0.1:{port}"
    desk = Desk(port)
    cookies, asset = data["cookies"], data["asset"]
    results: dict = {}

    # Memory: warm the server's code paths with a few sockets first, then count only the sockets.
    warm = await desk.open_many(cookies[:20], parallel=10)
    await desk.close(warm)
    await asyncio.sleep(1.0)
    before = rss_kib(server_pid)
    desk.connect_seconds.clear()
    opened_at = time.perf_counter()
    idle = await desk.open_many(cookies[: args.sockets], parallel=args.connect_parallel)
    opened_in = time.perf_counter() - opened_at
    await asyncio.sleep(2.0)
    after = rss_kib(server_pid)
    processes.check()
    results["memory"] = {
        "sockets": len(idle),
        "agents": len(idle),
        "sockets_per_agent": 1,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "per_socket_kib": round((after - before) / len(idle), 1),
        "open_all_seconds": round(opened_in, 2),
        "connect_to_snapshot": summary_ms(desk.connect_seconds),
    }
    print(
        f"memory: {len(idle)} sockets, RSS {before} -> {after} KiB, "
        f"{results['memory']['per_socket_kib']} KiB each (opened in {opened_in:.1f} s)",
        flush=True,
    )

    # Latency: keep the Support agents' sockets, close the rest.
    keep, extra = idle[: args.agents], idle[args.agents :]
    await desk.close(extra)
    desk.listen(keep)
    await asyncio.sleep(1.0)

    # The whole pipeline once before measuring (also proves the worker is up).
    warmup = signed_webhooks(asset, base_url, "Warmup", args.warmup, first_number=0)
    sent_warm: dict[str, float] = {}
    failures: list[str] = []
    await post_conversations(
        base_url=base_url, webhooks=warmup, rate=args.warmup_rate, sent=sent_warm, failures=failures
    )
    await wait_for_offers(desk, [n for n, _ in warmup], timeout=60)
    if any(n not in desk.offers for n, _ in warmup):
        processes.check()
        raise RuntimeError(
            f"no offers for the warm-up conversations ({failures or 'all answered 200'});\n"
            f"{processes.log_tail('celery')}"
        )
    # The first few carry the worker's cold start; the rest show the path with no backlog.
    settled = [n for n, _ in warmup][3:]
    results["offer_unloaded"] = {
        **summary_ms([desk.offers[n] - sent_warm[n] for n in settled if n in sent_warm]),
        "rate_per_s": args.warmup_rate,
    }
    await asyncio.sleep(1.0)

    results["redis_hop_idle"] = summary_ms(
        await redis_hop(messages=args.redis_messages, spacing=0.002)
    )

    count = int(args.rate * args.seconds)
    webhooks = signed_webhooks(asset, base_url, "Load", count, first_number=1_000_000)
    sent: dict[str, float] = {}
    failures = []
    load = asyncio.create_task(
        post_conversations(
            base_url=base_url, webhooks=webhooks, rate=args.rate, sent=sent, failures=failures
        )
    )
    hop_under_load = asyncio.create_task(
        redis_hop(messages=args.redis_messages, spacing=args.seconds / args.redis_messages)
    )
    span = await load
    hops_loaded = await hop_under_load
    names = [n for n, _ in webhooks]
    await wait_for_offers(desk, names, timeout=args.drain_seconds)
    latencies = [desk.offers[n] - sent[n] for n in names if n in sent and n in desk.offers]
    offered_agents = {desk.offer_agents[n] for n in names if n in desk.offers}
    results["redis_hop_under_load"] = summary_ms(hops_loaded)
    results["offer"] = {
        **summary_ms(latencies),
        "conversations": count,
        "answered_200": len(sent),
        "webhook_failures": failures[:10],
        "offers_received": sum(n in desk.offers for n in names),
        "distinct_agents_offered": len(offered_agents),
        "send_span_seconds": round(span, 2),
        "rate_achieved_per_s": round(len(sent) / span, 2) if span else 0,
        "last_offer_after_last_webhook_s": round(
            max(desk.offers[n] for n in names if n in desk.offers) - max(sent.values()), 2
        )
        if sent and latencies
        else None,
        "p90_ms": round(1000 * percentile(latencies, 90), 2) if latencies else None,
    }
    await desk.close()
    results["_arrivals"] = {n: desk.offers_wall[n] for n in names if n in desk.offers_wall}
    return results


def stage_breakdown(arrivals: dict[str, float]) -> dict:
    """Where the time of each load conversation went, from the rows the pipeline stored.

    Timestamps are the same machine's wall clock: the view's received_at, the worker's
    processed_at (normalized), the flow run's start, the task's enqueued_at (the flow's queue
    node), the offer's created_at (router), and the frame's arrival here.
    """
    from channels_app.models import Conversation, Direction, InboundEvent, Message
    from routing.flows.models import FlowRun
    from routing.models import Offer, Task

    conversations = {
        c.pk: c.customer.display_name
        for c in Conversation.objects.filter(
            customer__display_name__in=list(arrivals)
        ).select_related("customer")
    }
    wamids = dict(
        Message.objects.filter(
            conversation_id__in=conversations, direction=Direction.INBOUND
        ).values_list("conversation_id", "provider_message_id")
    )
    events = {
        e.provider_event_id: e
        for e in InboundEvent.objects.filter(provider_event_id__in=wamids.values())
    }
    runs: dict[int, FlowRun] = {}
    for run in FlowRun.objects.filter(conversation_id__in=conversations).order_by("started_at"):
        runs.setdefault(run.conversation_id, run)
    tasks = {t.conversation_id: t for t in Task.objects.filter(conversation_id__in=conversations)}
    offers: dict[int, Offer] = {}
    for offer in Offer.objects.filter(task__conversation_id__in=conversations).order_by(
        "created_at"
    ):
        offers.setdefault(offer.task_id, offer)
    stages: dict[str, list[float]] = {
        name: []
        for name in (
            "webhook stored -> event normalized (Celery wait + normalize)",
            "event normalized -> flow run started (Celery wait)",
            "flow run started -> task queued (flow: greeting, queue node)",
            "task queued -> offer made (Celery wait + router)",
            "offer made -> frame on the socket (commit, Redis layer, uvicorn)",
        )
    }
    labels = list(stages)
    for conversation_id, name in conversations.items():
        event = events.get(wamids.get(conversation_id))
        run, task = runs.get(conversation_id), tasks.get(conversation_id)
        offer = offers.get(task.pk) if task else None
        if not (event and event.processed_at and run and task and offer):
            continue
        points = [
            event.received_at.timestamp(),
            event.processed_at.timestamp(),
            run.started_at.timestamp(),
            task.enqueued_at.timestamp(),
            offer.created_at.timestamp(),
            arrivals[name],
        ]
        for label, start, end in zip(labels, points, points[1:], strict=False):
            stages[label].append(end - start)
    return {label: summary_ms(values) for label, values in stages.items()}


# --- report ------------------------------------------------------------------------------------


def report(args, results: dict) -> str:
    offer, mem = results["offer"], results["memory"]
    idle, loaded = results["redis_hop_idle"], results["redis_hop_under_load"]
    rows = [
        ("webhook 200 -> offer frame, p50", f"{offer.get('p50_ms', '-')} ms"),
        (
            "webhook 200 -> offer frame, p99",
            f"{offer.get('p99_ms', '-')} ms (max {offer.get('max_ms', '-')} ms)",
        ),
        (
            f"same, no backlog ({results['offer_unloaded']['rate_per_s']:g}/s warm-up), p50 / p99",
            f"{results['offer_unloaded'].get('p50_ms', '-')} / {results['offer_unloaded'].get('p99_ms', '-')} ms",
        ),
        (
            "offers received / conversations",
            f"{offer['offers_received']} / {offer['conversations']} "
            f"({offer['distinct_agents_offered']} agents)",
        ),
        (
            "Redis pub/sub hop idle, p50 / p99",
            f"{idle.get('p50_ms', '-')} / {idle.get('p99_ms', '-')} ms",
        ),
        (
            "Redis pub/sub hop under load, p50 / p99",
            f"{loaded.get('p50_ms', '-')} / {loaded.get('p99_ms', '-')} ms",
        ),
        (
            "uvicorn RSS before / after sockets",
            f"{mem['rss_before_kib']} / {mem['rss_after_kib']} KiB",
        ),
        (
            "memory per idle desktop socket",
            f"{mem['per_socket_kib']} KiB ({mem['sockets']} sockets, {mem['agents']} agents)",
        ),
        (
            "connect -> snapshot while opening them, p50 / p99",
            f"{mem['connect_to_snapshot']['p50_ms']} / {mem['connect_to_snapshot']['p99_ms']} ms",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [
        f"{args.agents} agents connected, {args.rate:g} new conversations/s for {args.seconds:g} s, "
        f"Celery --pool {args.pool} -c {args.concurrency}, {os.cpu_count()} cores"
    ]
    lines += [f"{label.ljust(width)}  {value}" for label, value in rows]
    lines.append("where the load's offer latency went, p50 / p99:")
    stage_width = max(len(label) for label in results["stages"])
    lines += [
        f"  {label.ljust(stage_width)}  {v.get('p50_ms', '-')} / {v.get('p99_ms', '-')} ms"
        for label, v in results["stages"].items()
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--agents", type=int, default=200, help="connected, available agents during the load"
    )
    parser.add_argument("--rate", type=float, default=20, help="new conversations per second")
    parser.add_argument("--seconds", type=float, default=15, help="length of the load")
    parser.add_argument(
        "--sockets",
        type=int,
        default=1000,
        help="idle sockets for the memory figure (one per agent)",
    )
    parser.add_argument("--redis-messages", type=int, default=1000)
    parser.add_argument(
        "--pool", choices=("threads", "prefork", "solo"), default="threads", help="Celery pool"
    )
    parser.add_argument(
        "--concurrency", type=int, default=None, help="Celery concurrency (threads 4, prefork 2)"
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=13,
        help="conversations before the load, slow enough to show the latency with no backlog",
    )
    parser.add_argument("--warmup-rate", type=float, default=2, help="their rate per second")
    parser.add_argument(
        "--drain-seconds", type=float, default=40, help="wait for late offers after the load"
    )
    parser.add_argument("--connect-parallel", type=int, default=50, help="sockets opening at once")
    parser.add_argument(
        "--output", default=str(RESULTS), help="JSON file for the figures ('' to skip)"
    )
    args = parser.parse_args()
    if args.concurrency is None:
        args.concurrency = {"threads": 4, "prefork": 2, "solo": 1}[args.pool]
    if args.sockets < args.agents:
        parser.error("--sockets must be at least --agents (the Support agents are among them)")
    count = int(args.rate * args.seconds)
    # Every conversation and warm-up stays offered (nobody accepts): the team needs room for all of them.
    max_social = max(3, math.ceil((count + args.warmup) / args.agents) + 1)

    raise_open_files_limit(args.sockets + 1024)
    began = time.perf_counter()
    print(f"database {DB_NAME}: recreate and migrate", flush=True)
    recreate_database()
    django_setup()
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    from channels_app.sandbox.fake_provider import FakeProvider, start_in_thread

    provider_server, provider, provider_url = start_in_thread(FakeProvider())
    print(
        f"seeding: {max(args.agents, args.sockets)} agents ({args.agents} on the Support team, "
        f"max {max_social} social each), sessions",
        flush=True,
    )
    data = seed(
        agents=args.agents, sockets=args.sockets, max_social=max_social, provider_url=provider_url
    )
    from django.db import connections

    connections.close_all()

    logdir = Path(tempfile.mkdtemp(prefix="bench-desktop-"))
    processes = Processes(logdir)
    port = free_port()
    try:
        server = start_server(processes, port)
        start_workers(processes, pool=args.pool, concurrency=args.concurrency)
        print(
            f"uvicorn pid {server.pid} on 127.0.0.1:{port}; Celery --pool {args.pool} -c {args.concurrency} "
            f"on queue {QUEUE}; logs in {logdir}",
            flush=True,
        )
        results = asyncio.run(run(args, data, server.pid, port, processes))
        processes.check()
    finally:
        processes.stop()
        provider_server.shutdown()
        redis.Redis.from_url(REDIS_URL).flushdb()

    from routing.models import Offer

    results["stages"] = stage_breakdown(results.pop("_arrivals"))
    results["database"] = {"offers": Offer.objects.count()}
    results["greetings_sent_to_fake_provider"] = len(provider.sent_to("whatsapp"))
    results["setup"] = {
        "agents": args.agents,
        "rate_per_s": args.rate,
        "seconds": args.seconds,
        "sockets": args.sockets,
        "celery_pool": args.pool,
        "celery_concurrency": args.concurrency,
        "uvicorn_processes": 1,
        "max_social": max_social,
        "rona_social_seconds": 60,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "redis_url": REDIS_URL,
        "database": DB_NAME,
        "run_seconds": round(time.perf_counter() - began, 1),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    print(report(args, results))
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
        print(f"figures written to {args.output}")


if __name__ == "__main__":
    main()
