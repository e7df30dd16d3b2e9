"""Benchmark: signed WhatsApp webhook ingest through the real ASGI server on PostgreSQL.

Measures, in one run against one uvicorn server:
- requests/s of signed WhatsApp text webhooks (verify signature, store the raw event, enqueue the
  processing task on Redis, answer 200), every request a new message id;
- requests/s of a minimal view that inserts one row (the baseline; goal: ingest >= half of it);
- p50 / p99 latency of the webhook answer at a steady (open-loop) 100 requests per second.

    .venv/bin/python bench/webhook_ingest.py            # about 70 s; writes docs/perf-channels.md

It recreates the database bench_channels on the local PostgreSQL, uses Redis db 3 with its own
queue name (deleted afterwards; no worker consumes it, so processing cost is not measured here),
and uses wrk for throughput (installed with apt-get when missing; falls back to an httpx client).
"""

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "bench_channels"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
QUEUE = "bench-channels-ingest"
# Throughput alternates minimal / webhook in short rounds so both see the same background load.
ROUNDS = 3

ENV = {
    **os.environ,
    "DATABASE_URL": f"{PG}/{DB_NAME}",
    "REDIS_URL": REDIS_URL,
    "CELERY_QUEUE": QUEUE,
    "CELERY_EAGER": "0",
    "EMBEDDED_TICKER": "0",
    "SANDBOX_PROVIDER": "0",
    "DJANGO_SETTINGS_MODULE": "bench.channels_settings",
    "LOG_LEVEL": "WARNING",
    "DATABASE_POOL_MAX": "16",
}

WRK_SCRIPT = """
local requests = {}
local counter = 0
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  local file = args[1] .. "_" .. id .. ".tsv"
  for line in io.lines(file) do
    local path, sig, body = line:match("([^\\t]*)\\t([^\\t]*)\\t(.*)")
    requests[#requests + 1] = wrk.format("POST", path,
      {["Content-Type"] = "application/json", ["X-Hub-Signature-256"] = sig}, body)
  end
end
function request()
  counter = counter + 1
  if counter > #requests then counter = 1 end
  return requests[counter]
end
"""


def sh(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=True, cwd=ROOT, env=ENV, **kwargs)


def ensure_wrk() -> str | None:
    if shutil.which("wrk"):
        return shutil.which("wrk")
    if shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], capture_output=True)
    return shutil.which("wrk")


def recreate_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")


def prepare(n_bodies: int, threads: int, workdir: Path, reserve: int):
    """Migrates, creates a tenant and asset, and pre-signs the webhook bodies (one file per wrk thread)."""
    sh(sys.executable, "manage.py", "migrate", "--noinput", "-v0")
    os.environ.update(ENV)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import json

    from django.db import connection

    from channels_app.models import ChannelAsset
    from channels_app.providers.meta import sign
    from channels_app.sandbox.customer import whatsapp_payload
    from tenants.services import tenant_create

    tenant = tenant_create(name="Bench", slug="bench")
    asset = ChannelAsset.objects.create(
        tenant=tenant,
        kind="whatsapp",
        name="Bench WhatsApp",
        wa_phone_number_id="900000000000001",
        wa_business_account_id="900000000000002",
        app_secret="bench-app-secret",
        verify_token="v",
        access_token="t",
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_channels_row (id bigserial PRIMARY KEY, body text NOT NULL)"
        )
    connection.close()
    path = f"/webhooks/whatsapp/{asset.uuid}/"
    signed = []
    for index in range(n_bodies):
        payload = whatsapp_payload(
            asset,
            sender=f"+49151{index % 5000:08d}",
            text=f"Hallo {index}",
            message_id=f"wamid.BENCH{index:09d}",
        )
        body = json.dumps(payload, separators=(",", ":"))
        signed.append((path, sign(asset.app_secret, body.encode()), body))
    # One file per round and wrk thread, so no webhook is ever sent twice.
    per_file = (len(signed) - reserve) // (
        threads * ROUNDS
    )  # the last `reserve` are for the steady run
    for r in range(ROUNDS):
        for t in range(threads):
            chunk = signed[(r * threads + t) * per_file : (r * threads + t + 1) * per_file]
            with open(workdir / f"webhooks{r}_{t}.tsv", "w") as out:
                out.writelines("\t".join(item) + "\n" for item in chunk)
            with open(workdir / f"minimal{r}_{t}.tsv", "w") as out:
                out.writelines(
                    "\t".join(("/bench/insert-one/", "-", item[2])) + "\n" for item in chunk[:2000]
                )
    return asset, signed


def start_server(port: int, workers: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--lifespan",
            "off",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=ENV,
    )
    import httpx

    for _ in range(100):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    server.terminate()
    raise SystemExit("the server did not come up")


def run_wrk(wrk: str, url: str, prefix: Path, seconds: int, threads: int, connections: int) -> dict:
    script = prefix.parent / "bench.lua"
    script.write_text(WRK_SCRIPT)
    out = subprocess.run(
        [
            wrk,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            url,
            "--",
            str(prefix),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(
        next(line.split()[1] for line in out.splitlines() if line.startswith("Requests/sec:"))
    )
    errors = sum(int(line.split()[-1]) for line in out.splitlines() if "Non-2xx" in line)
    total = int(next(line.split()[0] for line in out.splitlines() if "requests in" in line))
    return {"rps": rps, "non_2xx": errors, "requests": total}


def combine(runs: list[dict], seconds: int) -> dict:
    return {
        "rps": sum(r["requests"] for r in runs) / (seconds * len(runs)),
        "non_2xx": sum(r["non_2xx"] for r in runs),
        "requests": sum(r["requests"] for r in runs),
        "rounds": [round(r["rps"]) for r in runs],
    }


async def closed_loop(
    url: str, bodies: list[tuple[str, str, str]], seconds: int, concurrency: int, minimal: bool
) -> dict:
    import httpx

    done = 0
    errors = 0
    deadline = time.perf_counter() + seconds
    index = iter(range(10**9))

    async def worker(client):
        nonlocal done, errors
        while time.perf_counter() < deadline:
            path, sig, body = bodies[next(index) % len(bodies)]
            response = await client.post(
                "/bench/insert-one/" if minimal else path,
                content=body,
                headers={"Content-Type": "application/json", "X-Hub-Signature-256": sig},
            )
            done += 1
            errors += response.status_code != 200

    start = time.perf_counter()
    async with httpx.AsyncClient(
        base_url=url, limits=httpx.Limits(max_connections=concurrency)
    ) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return {"rps": done / (time.perf_counter() - start), "non_2xx": errors, "requests": done}


async def steady(url: str, bodies: list[tuple[str, str, str]], rate: int, seconds: int) -> dict:
    """Open loop: one request every 1/rate s whatever the answers do; latency from the planned send time."""
    import httpx

    latencies: list[float] = []
    statuses: list[int] = []

    async def one(client, planned: float, item):
        path, sig, body = item
        await asyncio.sleep(max(0.0, planned - time.perf_counter()))
        response = await client.post(
            path,
            content=body,
            headers={"Content-Type": "application/json", "X-Hub-Signature-256": sig},
        )
        latencies.append(time.perf_counter() - planned)
        statuses.append(response.status_code)

    start = time.perf_counter() + 0.5
    async with httpx.AsyncClient(
        base_url=url, limits=httpx.Limits(max_connections=200), timeout=30
    ) as client:
        await asyncio.gather(
            *(one(client, start + i / rate, bodies[i]) for i in range(rate * seconds))
        )
    latencies.sort()
    return {
        "requests": len(latencies),
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
        "max_ms": 1000 * latencies[-1],
        "non_200": sum(s != 200 for s in statuses),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=15, help="length of each throughput run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--port", type=int, default=8799)
    parser.add_argument("--steady-seconds", type=int, default=20)
    parser.add_argument(
        "--write", default=str(ROOT / "docs" / "perf-channels.md"), help="'' to skip"
    )
    args = parser.parse_args()
    threads = 2
    load_before = os.getloadavg()[0]
    wrk = ensure_wrk()
    recreate_database()
    workdir = Path(tempfile.mkdtemp(prefix="bench-channels-"))
    steady_n = 100 * args.steady_seconds
    asset, signed = prepare(
        n_bodies=60_000 + steady_n, threads=threads, workdir=workdir, reserve=steady_n
    )
    steady_bodies, signed = signed[-steady_n:], signed[:-steady_n]
    server = start_server(args.port, args.workers)
    url = f"http://127.0.0.1:{args.port}"
    try:
        round_seconds = max(2, args.seconds // ROUNDS)
        if wrk:
            tool = f"wrk -t{threads} -c{args.connections}, {ROUNDS} alternating rounds of {round_seconds}s each"
            run_wrk(wrk, url, workdir / "minimal0", 2, threads, args.connections)  # warm-up
            minimal_runs, ingest_runs = [], []
            for r in range(ROUNDS):
                minimal_runs.append(
                    run_wrk(
                        wrk, url, workdir / f"minimal{r}", round_seconds, threads, args.connections
                    )
                )
                ingest_runs.append(
                    run_wrk(
                        wrk, url, workdir / f"webhooks{r}", round_seconds, threads, args.connections
                    )
                )
            minimal = combine(minimal_runs, round_seconds)
            ingest = combine(ingest_runs, round_seconds)
        else:
            tool = f"httpx closed loop, {args.connections} concurrent, {args.seconds}s"
            asyncio.run(closed_loop(url, signed, 3, args.connections, True))
            minimal = asyncio.run(closed_loop(url, signed, args.seconds, args.connections, True))
            ingest = asyncio.run(closed_loop(url, signed, args.seconds, args.connections, False))
        latency = asyncio.run(steady(url, steady_bodies, 100, args.steady_seconds))
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)
    import redis
    from django.db import connection

    from channels_app.models import InboundEvent

    stored = InboundEvent.objects.count()
    connection.close()
    queued = redis.Redis.from_url(REDIS_URL).llen(QUEUE)
    redis.Redis.from_url(REDIS_URL).delete(QUEUE)
    ratio = ingest["rps"] / minimal["rps"]
    lines = [
        "# Channels: webhook ingest performance",
        "",
        "Command: `.venv/bin/python bench/webhook_ingest.py` (about 70 s; it rewrites this page).",
        "",
        f"Setup: uvicorn with {args.workers} worker(s), PostgreSQL `{DB_NAME}` (local), Redis as the Celery "
        f"broker, load from `{tool}` on the same machine ({os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}; load average {load_before:.1f} when "
        "the run started: the machine is shared, so figures move between runs).",
        "Each webhook is a distinct signed WhatsApp text message: verify the HMAC, store the raw event "
        "(`INSERT ... ON CONFLICT DO NOTHING`), enqueue processing on Redis after commit, answer 200.",
        "The baseline is a view behind the same middleware that inserts one row into a one-column table.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| minimal insert-one-row view | {minimal['rps']:.0f} req/s ({minimal['non_2xx']} non-2xx; "
        f"rounds {minimal.get('rounds', '-')}) |",
        f"| signed WhatsApp webhook ingest | {ingest['rps']:.0f} req/s ({ingest['non_2xx']} non-2xx; "
        f"rounds {ingest.get('rounds', '-')}) |",
        f"| ingest / minimal | {ratio:.2f} (goal >= 0.50: {'met' if ratio >= 0.5 else 'NOT met'}) |",
        f"| webhook p50 at a steady 100 req/s | {latency['p50_ms']:.1f} ms |",
        f"| webhook p99 at a steady 100 req/s | {latency['p99_ms']:.1f} ms (max {latency['max_ms']:.1f} ms, "
        f"{latency['non_200']} non-200 of {latency['requests']}) |",
        "",
        f"Raw events stored: {stored}; processing tasks queued (not consumed during the run): {queued}.",
        "Processing (normalization, media download) runs in Celery workers and is not part of these figures.",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.write:
        Path(args.write).write_text(report)


if __name__ == "__main__":
    main()
