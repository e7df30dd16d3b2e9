"""Production shape: two ASGI server processes and a Celery worker, all on Redis.

The worker makes the offers; each reaches its agent on whichever server process holds their socket.
"""

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from celery.signals import before_task_publish
from django.conf import settings
from websockets.sync.client import connect

from config.celery import app as celery_app
from routing.services import agent_state_set, task_enqueue
from tests.routing.desktop.conftest import session_cookie
from tests.routing.factories import make_agent, make_conversation, make_queue, make_team

ROOT = Path(settings.BASE_DIR)
pytestmark = pytest.mark.django_db(transaction=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"process exited early: {process.stdout.read().decode(errors='replace')}"
            )
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


@pytest.fixture
def production(transactional_db):
    """Two uvicorn processes and one Celery worker on the test database, Redis and a private queue."""
    database = settings.DATABASES["default"]
    queue = f"scale-out-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "CELERY_EAGER": "false",
        "CELERY_QUEUE": queue,
        "EMBEDDED_TICKER": "false",
    }
    env.pop("TEST_DATABASE_NAME", None)
    ports = [free_port(), free_port()]
    processes = [
        subprocess.Popen(
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
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for port in ports
    ]
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            queue,
            "--pool",
            "solo",
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    processes.append(worker)
    previous = (celery_app.conf.task_always_eager, celery_app.conf.task_default_queue)
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_default_queue = queue
    try:
        for port, process in zip(ports, processes, strict=False):
            wait_for_port(port, process)
        yield ports
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = previous
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


@contextmanager
def open_socket(port: int, user):
    with connect(
        f"ws://127.0.0.1:{port}/ws/desktop/",
        origin=f"http://127.0.0.1:{port}",
        additional_headers={"Cookie": f"sessionid={session_cookie(user)}"},
        open_timeout=10,
    ) as ws:
        hello = json.loads(ws.recv(timeout=10))
        assert hello["type"] == "snapshot"
        yield ws


def next_offer(ws, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        frame = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if frame["type"] == "event" and frame["event"] == "routing.offered":
            return frame["payload"]


def test_an_offer_made_by_the_worker_reaches_the_agent_on_either_server_process(tenant, production):
    published: list[str] = []

    def record(sender=None, **kwargs):
        published.append(sender)

    team = make_team(tenant=tenant, name="Chat team", max_chat=1)
    queue = make_queue(tenant=tenant, teams=[team], name="Chat", channel_type="chat")
    on_first = make_agent(tenant=tenant, team=team, name="One")
    on_second = make_agent(tenant=tenant, team=team, name="Two")
    first = make_conversation(tenant=tenant, kind="chat", customer_name="Ada", text="one")
    second = make_conversation(tenant=tenant, kind="chat", customer_name="Ben", text="two")

    before_task_publish.connect(record)
    try:
        with (
            open_socket(production[0], on_first.user) as first_ws,
            open_socket(production[1], on_second.user) as second_ws,
        ):
            agent_state_set(agent=on_first, state="available")
            agent_state_set(agent=on_second, state="available")  # later: the second in line
            task_enqueue(conversation=first, queue=queue)
            offer_on_first = next_offer(first_ws)
            task_enqueue(conversation=second, queue=queue)
            offer_on_second = next_offer(second_ws)
    finally:
        before_task_publish.disconnect(record)

    assert (offer_on_first["conversation_id"], offer_on_first["agent_id"]) == (
        first.pk,
        on_first.pk,
    )
    assert (offer_on_second["conversation_id"], offer_on_second["agent_id"]) == (
        second.pk,
        on_second.pk,
    )
    # The routing ran in the worker: it went through the broker, not in this process.
    assert "routing.tasks.route_queue" in published
