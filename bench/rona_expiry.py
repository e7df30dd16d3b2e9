"""RONA: 1,000 offers with a 5 s timeout expire between 5 s and 7 s, also across a kill -9.

Starts a real Celery worker and beat (Redis broker, REDIS_URL) against the benchmark database,
then runs two rounds of 1,000 offers (1,000 agents with room for one chat, RONA timeout 5 s):

1. clean: every offer must be decided between 5 s and 7 s after it was made;
2. crash: the worker is killed with SIGKILL while the offers come due and restarted 3 s later;
   every offer left is decided within 2 s of the worker's return (its "ready" line); how late
   the offers are past their deadline depends on how long the restart takes on the machine;
3. beat crash: the same with Celery beat killed and restarted; every offer left is decided within
   2 s of beat's return (its "Starting" line).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_routing REDIS_URL=redis://127.0.0.1:6379/5 \
        .venv/bin/python bench/rona_expiry.py
"""

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from routing_setup import (
    ROOT,
    agents_create,
    analyze,
    django_setup,
    tasks_create,
    team_create,
    tenant_reset,
    tenants_wipe,
)

CELERY = str(Path(sys.executable).with_name("celery"))
OFFERS = 1000
TIMEOUT = 5


def start(args: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "CELERY_EAGER": "0", "EMBEDDED_TICKER": "0", "LOG_LEVEL": "INFO"}
    return subprocess.Popen(
        [CELERY, "-A", "config", *args],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_for(log: Path, text: str, since: int, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in log.read_text(errors="replace")[since:]:
            return
        time.sleep(0.2)
    raise SystemExit(f"{text!r} did not appear in {log}")


def start_worker(log: Path) -> subprocess.Popen:
    since = len(log.read_text(errors="replace")) if log.exists() else 0
    proc = start(
        [
            "worker",
            "--pool=prefork",
            "--concurrency=2",
            "-l",
            "info",
            "-n",
            f"rona-bench-{time.time()}@%h",
        ],
        log,
    )
    wait_for(log, " ready.", since)
    return proc


def start_beat(log: Path, logdir: Path) -> subprocess.Popen:
    since = len(log.read_text(errors="replace")) if log.exists() else 0
    proc = start(["beat", "-s", str(logdir / "beat-schedule"), "-l", "info"], log)
    wait_for(log, "beat: Starting", since)
    return proc


def kill9(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def round_setup(slug: str):
    from routing.models import Queue
    from routing.services import route_queue

    tenant = tenant_reset(slug, rona_chat_seconds=TIMEOUT)
    team = team_create(tenant, max_chat=1)
    agents_create(tenant, team, OFFERS)
    queue = Queue.objects.create(tenant=tenant, name="Bench", channel_type="chat")
    queue.teams.set([team])
    tasks_create(tenant, queue, OFFERS)
    analyze()
    began = time.perf_counter()
    made = route_queue(queue_id=queue.pk)
    print(f"  {made} offers made in {time.perf_counter() - began:.2f} s")
    return tenant


def round_wait(tenant, limit: float) -> None:
    from routing.models import Offer

    deadline = time.time() + limit
    while Offer.objects.filter(tenant=tenant, status="pending").exists() and time.time() < deadline:
        time.sleep(0.25)


def kill_mid_run(tenant) -> int:
    """Waits until expiry is under way (some offers expired, most pending); returns how many."""
    from routing.models import Offer

    deadline = time.time() + 30
    while (
        not Offer.objects.filter(tenant=tenant, status="expired").exists()
        and time.time() < deadline
    ):
        time.sleep(0.05)
    time.sleep(0.2)
    return Offer.objects.filter(tenant=tenant, status="expired").count()


def after_return(tenant, returned: float) -> float:
    """Seconds from the process's return to the last offer decided."""
    from datetime import UTC, datetime

    from django.db.models import Max

    from routing.models import Offer

    last = Offer.objects.filter(tenant=tenant).aggregate(last=Max("decided_at"))["last"]
    seconds = (last - datetime.fromtimestamp(returned, tz=UTC)).total_seconds()
    print(f"  {'after_return_s':<16} {seconds:.2f}")
    return seconds


def report(tenant) -> dict:
    from routing.models import AgentState, Offer

    offers = list(
        Offer.objects.filter(tenant=tenant).values(
            "status", "created_at", "expires_at", "decided_at"
        )
    )
    decided = [o for o in offers if o["decided_at"]]
    after = [(o["decided_at"] - o["created_at"]).total_seconds() for o in decided]
    late = [(o["decided_at"] - o["expires_at"]).total_seconds() for o in decided]
    pending = sum(1 for o in offers if o["status"] == "pending")
    rona = AgentState.objects.filter(tenant=tenant, state="rona").count()
    result = {
        "offers": len(offers),
        "expired": sum(1 for o in offers if o["status"] == "expired"),
        "pending": pending,
        "agents_in_rona": rona,
        "min_s": min(after),
        "median_s": statistics.median(after),
        "max_s": max(after),
        "within_5_7": sum(1 for a in after if TIMEOUT <= a <= TIMEOUT + 2),
        "max_late_s": max(late),
    }
    for k, v in result.items():
        print(f"  {k:<16} {v:.2f}" if isinstance(v, float) else f"  {k:<16} {v}")
    return result


def main() -> None:
    django_setup()
    from django.db import connections

    tenants_wipe()
    logdir = Path(tempfile.mkdtemp(prefix="rona-bench-"))
    worker_log, beat_log = logdir / "worker.log", logdir / "beat.log"
    print(f"logs in {logdir}")
    beat = start_beat(beat_log, logdir)
    worker = start_worker(worker_log)
    ok = True
    try:
        print("round 1: clean")
        tenant = round_setup("bench-rona-clean")
        round_wait(tenant, 20)
        r = report(tenant)
        ok &= r["pending"] == 0 and r["within_5_7"] == OFFERS

        print("round 2: worker killed with SIGKILL mid-run, restarted 3 s later")
        tenant = round_setup("bench-rona-crash")
        expired_before = kill_mid_run(tenant)
        kill9(worker)
        print(f"  killed the worker with {expired_before} offers expired; restarting in 3 s")
        time.sleep(3)
        worker = start_worker(worker_log)
        returned = time.time()
        round_wait(tenant, 30)
        r = report(tenant)
        ok &= r["pending"] == 0 and after_return(tenant, returned) <= 2

        print("round 3: beat killed with SIGKILL mid-run, restarted 3 s later")
        tenant = round_setup("bench-rona-beat")
        expired_before = kill_mid_run(tenant)
        kill9(beat)
        print(f"  killed beat with {expired_before} offers expired; restarting in 3 s")
        time.sleep(3)
        beat = start_beat(beat_log, logdir)
        returned = time.time()
        round_wait(tenant, 30)
        r = report(tenant)
        ok &= r["pending"] == 0 and after_return(tenant, returned) <= 2
    finally:
        for proc in (worker, beat):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
        connections.close_all()
    print("RESULT:", "OK" if ok else "FAILED")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
