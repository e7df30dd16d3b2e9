"""Soak-and-fault harness: the production shape under load, replays and faults, then checks.

Starts on this machine: a private redis-server (its own port, append-only file), two uvicorn
processes on two ports, two Celery workers (thread pool) and Celery beat against a fresh
PostgreSQL database soak_<pid>, with clamd when scripts/ensure-clamd.sh's socket answers, and a
fake provider on loopback that records every send. Then, for --duration seconds:

- customers start conversations at --rate a second, spread over every channel: signed WhatsApp,
  Messenger, SMS (Twilio), email (Mailgun-signed) and Apple (JWT) webhooks, and live chat through
  the widget's endpoints; a delivery without a 2xx is retried; 30% are repeated (half at once,
  half late), spread over both ASGI processes;
- agents on their desktop sockets (spread over both processes) accept, reply, close, let 10% of
  their offers run out (RONA) and come back, drop their connection now and then and compare the
  snapshot they get with the database; a supervisor moves conversations between agents;
- faults: a worker, an ASGI process and beat are killed with SIGKILL and Redis is restarted (each
  at least once, a round every 300 s of --duration), each brought back a few seconds later.

Then it lets the work settle and checks, from the database and the fake provider's records:
inbound messages stored exactly once, conversations closed / waiting / owned (none stuck), no
double offers, no agent over capacity (from the history), every reply sent exactly once, every
RONA in time, every reconnected desktop's snapshot right. One screen of counts; exit status 1 on
any violation. Every process started is stopped at the end, also on Ctrl-C or an error, and the
database is dropped (--keep-db keeps it).

    .venv/bin/python bench/soak.py --duration 120 --rate 4      # the CI run
    .venv/bin/python bench/soak.py --duration 900 --rate 4 --agents 16   # the long run (docs/reliability.md)
"""

import argparse
import asyncio
import base64
import os
import random
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from pipeline_env import bench_env  # noqa: E402
from soaklib import checks  # noqa: E402
from soaklib.agents import AgentLedger, Desk, transfers  # noqa: E402
from soaklib.customers import Customers, Ledger  # noqa: E402
from soaklib.processes import (  # noqa: E402
    PG,
    build_stack,
    clamd_socket,
    database_create,
    database_drop,
    free_port,
)
from soaklib.seed import PROFILE, seed  # noqa: E402

SWEEP_SECONDS = 1.0  # CELERY_BEAT_SCHEDULE's routing sweep
FAULT_DOWN_SECONDS = 4.0


def environment(*, db: str, redis_port: int, ports: list[int]) -> dict[str, str]:
    origins = ",".join(f"http://127.0.0.1:{p}" for p in ports)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"{PG}/{db}",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/8",
        "CELERY_EAGER": "false",
        "EMBEDDED_TICKER": "false",
        "CHANNEL_LAYER_PREFIX": "soak",
        "SANDBOX_PROVIDER": "false",
        "OUTBOUND_ALLOWED_HOSTS": "127.0.0.1",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{ports[0]}",
        "CSRF_TRUSTED_ORIGINS": origins,
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        # Every customer here comes from 127.0.0.1: the per-address abuse limits would refuse them.
        "LIVECHAT_MESSAGES_PER_IP": "1000000",
        "LIVECHAT_NEW_VISITORS_PER_IP": "1000000",
        "LIVECHAT_CONVERSATIONS_PER_IP": "1000000",
        "EMAIL_FLOOD_MAX_PER_ADDRESS": "1000",
        "CLAMD_SOCKET": clamd_socket(),
    }
    for name in ("TEST_DATABASE_NAME", "CELERY_QUEUE"):
        env.pop(name, None)
    env.update(bench_env())
    if not env.get("FIELD_ENCRYPTION_KEYS"):
        env["FIELD_ENCRYPTION_KEYS"] = base64.urlsafe_b64encode(os.urandom(32)).decode()
    return env


def fault_plan(duration: float) -> list[tuple[float, str]]:
    """(seconds into the run, piece): each fault at least once, one round per 300 s."""
    rounds = max(1, int(duration // 300))
    faults = ("worker1", "asgi1", "beat", "redis")
    plan = []
    span = duration / rounds
    for r in range(rounds):
        for i, piece in enumerate(faults):
            plan.append((r * span + span * (i + 1) / (len(faults) + 1), piece))
    return plan


def run_faults(stack, plan, began: float, stop: threading.Event, log: list) -> None:
    for at, piece in plan:
        while time.time() < began + at:
            if stop.wait(0.2):
                return
        if piece == "redis":
            # A restart: the server stops (writing its append-only file) and starts again.
            killed = stack.kill("redis", signal.SIGTERM)
        else:
            killed = stack.kill(piece)
        time.sleep(FAULT_DOWN_SECONDS)
        back = stack.bring_back(piece)
        log.append((piece, killed, back))
        print(
            f"  fault: {piece} {'restarted' if piece == 'redis' else 'killed (SIGKILL)'} at "
            f"+{killed - began:.0f} s ({time.strftime('%H:%M:%S', time.gmtime(killed))}), "
            f"back after {back - killed:.1f} s",
            flush=True,
        )


async def play(args, stack, seeded, ports, provider) -> dict:
    rng = random.Random(args.seed)
    ledger, agent_ledger = Ledger(), AgentLedger()
    stop_agents = asyncio.Event()
    desks = [
        Desk(
            index=i,
            agent_id=agent_id,
            cookie=cookie,
            ports=ports,
            wrap_up_code_id=seeded.wrap_up_code_id,
            ledger=agent_ledger,
            rng=random.Random(rng.random()),
            stop=stop_agents,
        )
        for i, (agent_id, cookie) in enumerate(
            zip(seeded.agent_ids, seeded.agent_cookies, strict=True)
        )
    ]
    desk_tasks = [asyncio.create_task(d.run()) for d in desks]
    mover = asyncio.create_task(
        transfers(
            desks=desks,
            ports=ports,
            cookie=seeded.supervisor_cookie,
            ledger=agent_ledger,
            rng=random.Random(rng.random()),
            stop=stop_agents,
        )
    )
    customers = Customers(
        seeded=seeded, ports=ports, rate=args.rate, ledger=ledger, rng=random.Random(rng.random())
    )
    began = time.time()
    fault_log: list = []
    fault_stop = threading.Event()
    faults = asyncio.create_task(
        asyncio.to_thread(
            run_faults, stack, fault_plan(args.duration), began, fault_stop, fault_log
        )
    )
    print(
        f"load: {args.rate:g} new conversations/s for {args.duration:g} s, {len(desks)} agents",
        flush=True,
    )
    try:
        await customers.run(until=began + args.duration)
        await faults
        print(
            f"load done at +{time.time() - began:.0f} s: {ledger.conversations} conversations; "
            "waiting for retries and late repeats",
            flush=True,
        )
        await customers.drain()
        print(f"settling {args.settle:g} s (agents keep working)", flush=True)
        await asyncio.sleep(args.settle)
        await asyncio.gather(*(d.finish() for d in desks))
        # Offers made meanwhile to agents who no longer accept run out: let them.
        await asyncio.sleep(seeded.rona_seconds + 3 * SWEEP_SECONDS)
    finally:
        fault_stop.set()
        stop_agents.set()
        await asyncio.gather(*desk_tasks, mover, return_exceptions=True)
        await asyncio.gather(*(d.close() for d in desks), return_exceptions=True)
    return {"ledger": ledger, "agents": agent_ledger, "faults": fault_log, "began": began}


def wait_quiet(timeout: float) -> None:
    """Until no inbound event and no outbound message is waiting for a worker."""
    from django.db import close_old_connections

    from channels_app.models import InboundEvent, Message

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        close_old_connections()
        busy = (
            InboundEvent.objects.filter(status="pending").exists()
            or Message.objects.filter(direction="out", status="pending").exists()
        )
        if not busy:
            return
        time.sleep(1)


def sweep_faults(stack) -> list[tuple[float, float]]:
    """When a fault stopped the sweep, (down at, back at): beat or Redis down, or no worker up."""

    def down(name: str) -> list[tuple[float, float]]:
        piece = stack.pieces[name]
        return [(a, b) for a, b in piece.kills] + [(a, b) for a, _, b in piece.exits]

    windows = down("beat") + down("redis")
    for a1, b1 in down("worker1"):
        for a2, b2 in down("worker2"):
            if max(a1, a2) < min(b1, b2):
                windows.append((max(a1, a2), min(b1, b2)))
    return windows


def summary(args, results: dict, found: list[checks.Check], stack, elapsed: float) -> str:
    ledger, agents = results["ledger"], results["agents"]
    lines = [
        f"soak: {args.duration:g} s at {args.rate:g} conversations/s, {args.agents} agents, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, run {elapsed:.0f} s",
        f"customers: {ledger.conversations} conversations, {len(ledger.posted)} messages, "
        f"{ledger.deliveries} deliveries ({ledger.repeats_concurrent} repeated at once, "
        f"{ledger.repeats_late} late), {ledger.retries} retried after no 2xx",
        f"agents: {agents.accepted} accepted, {agents.closed} closed, {agents.let_expire} let run out, "
        f"{len(agents.replies_acked)} replies, {agents.reconnects} reconnects, "
        f"{agents.transfers} transfers",
        "faults: "
        + ", ".join(f"{piece} x{len(p.kills)}" for piece, p in stack.pieces.items() if p.kills),
    ]
    for name, piece in stack.pieces.items():
        for at, code, back in piece.exits:
            lines.append(
                f"exited unasked: {name} (status {code}) at +{at - results['began']:.0f} s, "
                "restarted by the supervisor"
            )
    if ledger.refused:
        top = sorted(ledger.refused.items(), key=lambda kv: -kv[1])[:4]
        lines.append("answers other than 2xx: " + "; ".join(f"{k!r} x{v}" for k, v in top))
    if agents.transfers_refused:
        top = sorted(agents.transfers_refused.items(), key=lambda kv: -kv[1])[:3]
        lines.append("transfers refused: " + "; ".join(f"{k!r} x{v}" for k, v in top))
    if agents.errors:
        lines.append("desktop errors: " + "; ".join(f"{k} x{v}" for k, v in agents.errors.items()))
    lines.append("")
    for check in found:
        mark = "ok  " if not check.violations else "FAIL"
        lines.append(
            f"{mark} {check.name}: {check.counted}"
            + (f"; {len(check.violations)} violations" if check.violations else "")
        )
        for violation in check.violations[:5]:
            lines.append(f"       {violation}")
    failed = sum(1 for c in found if c.violations)
    lines.append("")
    lines.append("RESULT: " + ("OK" if not failed else f"FAILED ({failed} checks)"))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--duration", type=float, default=120, help="seconds of load (faults within)"
    )
    parser.add_argument("--rate", type=float, default=4, help="new conversations a second")
    parser.add_argument("--agents", type=int, default=12)
    parser.add_argument(
        "--rona-seconds", type=int, default=8, help="the tenant's RONA timeout (>= 5)"
    )
    parser.add_argument(
        "--rona-allowance",
        type=float,
        default=3.0,
        help="seconds a sweep may wait for a worker thread and a CPU beyond its interval",
    )
    parser.add_argument("--concurrency", type=int, default=4, help="threads per Celery worker")
    parser.add_argument(
        "--settle", type=float, default=30, help="seconds agents work on after the load"
    )
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()

    began = time.perf_counter()
    db = f"soak_{os.getpid()}"
    redis_port, ports = free_port(), [free_port(), free_port()]
    env = environment(db=db, redis_port=redis_port, ports=ports)
    logdir = Path(tempfile.mkdtemp(prefix="soak-"))
    stack = build_stack(
        logdir=logdir, env=env, redis_port=redis_port, ports=ports, concurrency=args.concurrency
    )

    def terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    provider_server = None
    try:
        print(
            f"database {db}, Redis on port {redis_port}, ASGI on {ports}, logs in {logdir}",
            flush=True,
        )
        database_create(db)
        stack.start("redis")
        stack.wait_ready("redis")
        import subprocess

        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        os.environ.update(env)
        import django

        django.setup()
        from channels_app.sandbox.fake_provider import FakeProvider, start_in_thread

        provider_server, provider, provider_url = start_in_thread(FakeProvider())
        seeded = seed(
            agents=args.agents,
            provider_url=provider_url,
            rona_seconds=args.rona_seconds,
            origin=f"http://127.0.0.1:{ports[0]}",
        )
        from django.db import connections

        connections.close_all()
        stack.start_all()
        stack.supervise()
        print(
            "started: "
            + ", ".join(f"{n} pid {p.process.pid}" for n, p in stack.pieces.items())
            + (f"; clamd at {env['CLAMD_SOCKET']}" if env["CLAMD_SOCKET"] else "; no clamd"),
            flush=True,
        )
        results = asyncio.run(play(args, stack, seeded, ports, provider))
        stack.check()
        wait_quiet(120)
        now = checks.now_utc()
        with provider.lock:
            records = list(provider.sent)
        agents = results["agents"]
        found = [
            checks.inbound_exactly_once(
                posted=results["ledger"].posted, accepted=results["ledger"].accepted
            ),
            checks.conversations_settled(now=now),
            checks.no_double_offers(now=now),
            checks.capacity_never_exceeded(profile=PROFILE, now=now),
            checks.replies_sent_once(
                acked=agents.replies_acked, unknown=agents.replies_unknown, provider_records=records
            ),
            checks.rona_in_time(
                sweep_seconds=SWEEP_SECONDS,
                allowance=args.rona_allowance,
                faults=sweep_faults(stack),
            ),
            checks.snapshots_match(
                checks=agents.snapshot_checks, mismatches=agents.snapshot_mismatches
            ),
        ]
        missing = [p for p in ("worker1", "asgi1", "beat", "redis") if not stack.pieces[p].kills]
        if missing:
            found.append(
                checks.Check("every fault injected", "", [f"{p} never killed" for p in missing])
            )
        print()
        print(summary(args, results, found, stack, time.perf_counter() - began), flush=True)
        return 1 if any(c.violations for c in found) else 0
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        return 130
    finally:
        stack.stop()
        if provider_server is not None:
            provider_server.shutdown()
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: BLE001  (Django may not be set up yet)
            pass
        if not args.keep_db:
            database_drop(db)


if __name__ == "__main__":
    raise SystemExit(main())
