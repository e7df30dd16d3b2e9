"""Benchmark: a reconnect storm on one ASGI process, and memory per idle desktop socket.

1,000 signed-in agents open their `/ws/desktop/` sockets at the same instant (as after a network
blip or a server restart) against one uvicorn process with the Redis channel layer, on
PostgreSQL. Measures, for each storm, connect -> snapshot per socket (p50/p99/max) and the time
from the storm's start to the last snapshot; then the uvicorn process's VmRSS with all sockets
idle, (after - before) / sockets. The storm runs twice: the first connection of every agent, and
a reconnect of all of them after closing.

    .venv/bin/python bench/reconnect_storm.py                  # 1,000 agents
    .venv/bin/python bench/reconnect_storm.py --sockets 500

It recreates the database bench_storm (BENCH_DB names another) and uses Redis db 11
(BENCH_REDIS_URL names another; flushed at start and end).
"""

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import desktop_latency as base  # noqa: E402  (seeding, processes and socket helpers)

base.DB_NAME = os.environ.get("BENCH_DB", "bench_storm")
base.REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
base.ENV.update({"DATABASE_URL": f"{base.PG}/{base.DB_NAME}", "REDIS_URL": base.REDIS_URL})
RESULTS = ROOT / "bench" / "results" / "reconnect_storm.json"


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def storm(port: int, cookies: list[str], server_pid: int) -> tuple[dict, tuple]:
    """Opens every socket at once; a socket whose snapshot does not come within 30 s counts as
    failed."""
    desk = base.Desk(port)
    cpu_before = cpu_seconds(server_pid)
    started = time.perf_counter()
    opened = await asyncio.gather(*(desk.open(c) for c in cookies), return_exceptions=True)
    span = time.perf_counter() - started
    sockets = [ws for ws in opened if not isinstance(ws, BaseException)]
    failed = [ws for ws in opened if isinstance(ws, BaseException)]
    desk.sockets.extend(sockets)
    figures = {
        "sockets": len(sockets),
        "failed": len(failed),
        "failures": sorted({type(exc).__name__ for exc in failed}),
        "all_snapshots_s": round(span, 2),
        "server_cpu_ms_per_socket": round(
            (cpu_seconds(server_pid) - cpu_before) * 1000 / max(1, len(cookies)), 1
        ),
        "connect_to_snapshot": base.summary_ms(desk.connect_seconds),
    }
    return figures, (desk, sockets)


async def run(args, cookies: list[str], port: int, server_pid: int) -> dict:
    warm = base.Desk(port)
    await warm.open_many(cookies[:20], parallel=20)
    await warm.close()
    await asyncio.sleep(1)
    before = base.rss_kib(server_pid)
    results: dict = {"load_average_before": os.getloadavg()}
    first, (desk, sockets) = await storm(port, cookies, server_pid)
    results["first_connect"] = first
    await asyncio.sleep(2)
    after = base.rss_kib(server_pid)
    results["rss_kib"] = {"before": before, "after": after}
    results["kib_per_idle_socket"] = round((after - before) / max(1, len(sockets)), 1)
    await desk.close()
    await asyncio.sleep(2)
    again, (desk, _) = await storm(port, cookies, server_pid)
    results["reconnect"] = again
    results["load_average_after"] = os.getloadavg()
    await desk.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--output", default=str(RESULTS))
    args = parser.parse_args()
    began = time.perf_counter()
    base.raise_open_files_limit(args.sockets * 2 + 1024)
    print(f"database {base.DB_NAME}: recreate and migrate", flush=True)
    base.recreate_database()
    base.django_setup()
    import redis

    redis.Redis.from_url(base.REDIS_URL).flushdb()
    print(f"seeding {args.sockets} agents with sessions", flush=True)
    data = base.seed(
        agents=min(100, args.sockets),
        sockets=args.sockets,
        max_social=3,
        provider_url="http://127.0.0.1:9",
    )
    from django.db import connections

    connections.close_all()
    processes = base.Processes(Path(tempfile.mkdtemp(prefix="bench-storm-")))
    port = base.free_port()
    try:
        server = base.start_server(processes, port)
        results = asyncio.run(run(args, data["cookies"][: args.sockets], port, server.pid))
        processes.check()
    finally:
        processes.stop()
        redis.Redis.from_url(base.REDIS_URL).flushdb()
    results["setup"] = {
        "sockets": args.sockets,
        "uvicorn_processes": 1,
        "cores": os.cpu_count(),
        "run_seconds": round(time.perf_counter() - began, 1),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    for name in ("first_connect", "reconnect"):
        figures = results[name]
        lat = figures["connect_to_snapshot"]
        print(
            f"{name}: {figures['sockets']} sockets ({figures['failed']} failed), "
            f"all answered in {figures['all_snapshots_s']} s "
            f"({figures['server_cpu_ms_per_socket']} ms of uvicorn CPU per socket); "
            f"connect -> snapshot p50 {lat.get('p50_ms', 0):.0f} ms, "
            f"p99 {lat.get('p99_ms', 0):.0f} ms, max {lat.get('max_ms', 0):.0f} ms; "
            f"failures: {', '.join(figures['failures']) or 'none'}"
        )
    print(
        f"memory: {results['kib_per_idle_socket']} KiB per idle socket "
        f"(VmRSS {results['rss_kib']['before']} -> {results['rss_kib']['after']} KiB); "
        f"load average {results['load_average_before'][0]:.1f} before, "
        f"{results['load_average_after'][0]:.1f} after"
    )
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
        print(f"figures written to {args.output}")


if __name__ == "__main__":
    main()
