"""Benchmark: live-chat visitor sockets on one ASGI process.

- memory per idle visitor socket: VmRSS of one uvicorn process before and after opening N visitor
  sockets (each with its own visitor token, each in its own group), (after - before) / N;
- visitor message -> agent frame: a visitor writes over its socket; the message is stored as a raw
  event, normalized by a Celery worker, and pushed through the Redis channel layer to the owning
  agent's desktop socket. Measured from the visitor's send to the desktop's message.new frame,
  with the N idle visitor sockets still open.

    .venv/bin/python bench/livechat_sockets.py            # about a minute; see docs/livechat.md

It recreates the database bench_livechat on the local PostgreSQL, uses Redis db 10 with the channel
layer prefix "benchlivechat" and a private Celery queue, and writes the figures to
bench/results/livechat_sockets.json. Everything listens on 127.0.0.1.
"""

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import desktop_latency as base  # noqa: E402

DB_NAME = "bench_livechat"
base.DB_NAME = DB_NAME
base.ENV.update(
    {
        "DATABASE_URL": f"{base.PG}/{DB_NAME}",
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10"),
        "CHANNEL_LAYER_PREFIX": "benchlivechat",
        # One visitor on loopback sends every measured message: the abuse limits stay out of it.
        "LIVECHAT_MESSAGES_PER_VISITOR": "100000",
        "LIVECHAT_MESSAGES_PER_IP": "100000",
    }
)
RESULTS = base.ROOT / "bench" / "results" / "livechat_sockets.json"


def seed(*, visitors: int) -> dict:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore

    from channels_app.livechat.services import visitor_token_issue
    from channels_app.services import channel_asset_create
    from tenants.models import Agent, MultimediaProfile, Site, Team, User
    from tenants.roles import CareProfile
    from tenants.services import membership_create, tenant_create

    tenant = tenant_create(name="Bench Chat", slug="bench-chat")
    asset = channel_asset_create(tenant=tenant, kind="chat", name="Bench website chat")
    widget = asset.chat_widget
    profile = MultimediaProfile.objects.create(
        tenant=tenant, name="Chat", max_chat=3, max_email=1, max_social=1, blending="blended"
    )
    site = Site.objects.create(tenant=tenant, name="Site", multimedia_profile=profile)
    team = Team.objects.create(tenant=tenant, site=site, name="Chat team")
    user = User.objects.create(email="agent@bench-chat.test", password=make_password(None))
    membership_create(user=user, tenant=tenant, care_profile=CareProfile.AGENT)
    agent = Agent.objects.create(
        tenant=tenant,
        user=user,
        team=team,
        site=site,
        multimedia_profile=profile,
        display_name="Bench agent",
    )
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    tokens = [
        visitor_token_issue(widget=widget, visitor=f"v-bench{i:05d}") for i in range(visitors)
    ]
    return {
        "widget_id": str(widget.widget_id),
        "cookie": session.session_key,
        "tokens": tokens,
        "agent_id": agent.pk,
        "asset_id": asset.pk,
    }


async def run(args, seeded: dict, port: int, server_pid: int) -> dict:
    from websockets.asyncio.client import connect

    origin = f"http://127.0.0.1:{port}"
    url = f"ws://127.0.0.1:{port}/ws/livechat/{seeded['widget_id']}/?token="

    async def visitor(token: str):
        ws = await connect(
            url + token, origin=origin, open_timeout=60, ping_interval=None, max_queue=16
        )
        hello = json.loads(await asyncio.wait_for(ws.recv(), timeout=60))
        assert hello["type"] == "history", hello
        return ws

    await asyncio.sleep(1)
    rss_before = base.rss_kib(server_pid)
    gate = asyncio.Semaphore(50)

    async def gated(token):
        async with gate:
            return await visitor(token)

    started = time.perf_counter()
    sockets = await asyncio.gather(*(gated(t) for t in seeded["tokens"]))
    open_seconds = time.perf_counter() - started
    await asyncio.sleep(2)
    rss_after = base.rss_kib(server_pid)

    # The measured visitor's first message opens its conversation; the agent then owns it.
    talker = sockets[0]
    await talker.send(json.dumps({"type": "message", "client_id": "first", "text": "hello"}))
    from asgiref.sync import sync_to_async

    from channels_app.models import Conversation

    def own() -> int:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            conv = Conversation.objects.filter(asset_id=seeded["asset_id"]).first()
            if conv:
                Conversation.objects.filter(pk=conv.pk).update(owner_id=seeded["agent_id"])
                return conv.pk
            time.sleep(0.1)
        raise RuntimeError("the first message never became a conversation")

    conversation_id = await sync_to_async(own)()
    desk = await connect(
        f"ws://127.0.0.1:{port}/ws/desktop/",
        origin=origin,
        additional_headers={"Cookie": f"sessionid={seeded['cookie']}"},
        ping_interval=None,
    )
    json.loads(await desk.recv())  # snapshot
    sent_at: dict[int, float] = {}
    latencies: list[float] = []

    async def drain_talker():
        while True:
            await talker.recv()

    drainer = asyncio.create_task(drain_talker())
    seen = 0
    for i in range(args.messages):
        sent_at[i] = time.perf_counter()
        await talker.send(
            json.dumps({"type": "message", "client_id": f"m{i}", "text": f"message {i}"})
        )
        while True:
            frame = json.loads(await asyncio.wait_for(desk.recv(), timeout=30))
            if os.environ.get("BENCH_DEBUG"):
                print(frame)
            if (
                frame.get("type") == "event"
                and frame.get("event") == "message.new"
                and frame["payload"].get("conversation_id") == conversation_id
            ):
                latencies.append(time.perf_counter() - sent_at[i])
                seen += 1
                break
        await asyncio.sleep(args.gap)
    drainer.cancel()
    await desk.close()
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return {
        "visitor_sockets": len(sockets),
        "open_seconds": round(open_seconds, 2),
        "rss_before_mib": round(rss_before / 1024, 1),
        "rss_after_mib": round(rss_after / 1024, 1),
        "kib_per_idle_socket": round((rss_after - rss_before) / len(sockets), 1),
        "visitor_message_to_agent_frame": base.summary_ms(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--visitors", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--gap", type=float, default=0.05)
    args = parser.parse_args()
    base.raise_open_files_limit(args.visitors * 2 + 200)
    base.recreate_database()
    base.django_setup()
    seeded = seed(visitors=args.visitors)
    port = base.free_port()
    processes = base.Processes(Path(tempfile.mkdtemp(prefix="bench-livechat-")))
    try:
        server = base.start_server(processes, port)
        base.start_workers(processes, pool="threads", concurrency=4)
        time.sleep(3)
        result = asyncio.run(run(args, seeded, port, server.pid))
    finally:
        processes.stop()
    result["load_average"] = os.getloadavg()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
