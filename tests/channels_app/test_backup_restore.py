"""A backup taken while webhooks keep arriving, restored into a new database: every message
acknowledged before the backup started is there, and replaying the deliveries made since (as
providers do: they redeliver what was not acknowledged, and the operator asks them to replay the
window, or the intake simply receives their retries) loses nothing and duplicates nothing.

Real pg_dump and pg_restore through scripts/backup.sh and scripts/restore.sh, against the
PostgreSQL the suite runs on; the webhooks are real requests through the webhook view."""

import copy
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.db import connection, connections
from django.test import Client

from channels_app.models import InboundEvent, Message
from tests.channels_app.conftest import load_fixture, post_meta

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
DELIVERIES = 40
# Posts each delivery in the file to the restored system's webhook, signed as Meta signs it.
REPLAY = """
import json
from django.test import Client
from django.test.utils import setup_test_environment
from channels_app.models import ChannelAsset
from tests.channels_app.conftest import post_meta
setup_test_environment()
asset, client = ChannelAsset.objects.get(pk={asset}), Client()
for payload in json.load(open("{path}")):
    print(post_meta(client, asset, payload).status_code)
# Beat's sweep, its clock moved past the stale delay: an event the backup caught stored but not
# yet processed is still pending, and a redelivery of it is (rightly) dropped as a duplicate.
from django.utils import timezone
from channels_app.services.inbound import STALE_AFTER, inbound_events_requeue_stale
inbound_events_requeue_stale(now=timezone.now() + STALE_AFTER)
"""


def delivery(number: int) -> dict:
    payload = copy.deepcopy(load_fixture("whatsapp", "text"))
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message["id"] = f"wamid.backup-{number:04d}"
    message["text"]["body"] = f"Message {number}"
    return payload


def database_url(name: str) -> str:
    settings = connection.settings_dict
    user, host, port = settings["USER"], settings["HOST"] or "127.0.0.1", settings["PORT"] or 5432
    return f"postgres://{user}@{host}:{port}/{name}"


class Customer(threading.Thread):
    """Posts deliveries one after the other, remembering which were acknowledged and when."""

    def __init__(self, asset):
        super().__init__(daemon=True)
        self.asset = asset
        self.acknowledged: list[int] = []
        self.next = 0
        self.dump_started_at: int | None = None  # index of the first delivery not surely in it
        self.go_on = threading.Event()
        self.go_on.set()
        self.error: BaseException | None = None

    def run(self):
        client = Client()
        try:
            while self.next < DELIVERIES and self.go_on.is_set():
                response = post_meta(client, self.asset, delivery(self.next))
                if response.status_code == 200:
                    self.acknowledged.append(self.next)
                self.next += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            connections.close_all()


@pytest.fixture
def restored_name():
    name = f"{connection.settings_dict['NAME']}_restored"

    def drop():
        subprocess.run(
            ["psql", database_url("postgres"), "-q", "-c", f'DROP DATABASE IF EXISTS "{name}"'],
            check=True,
        )

    drop()  # left over by an interrupted run
    yield name
    connections.close_all()
    drop()


def in_database(name: str, sql: str, *params):
    """A query against another database of the same server (the restored one)."""
    import psycopg

    with psycopg.connect(database_url(name)) as conn:
        return conn.execute(sql, params).fetchall()


def test_a_backup_while_webhooks_arrive_restores_and_replays_without_loss_or_duplicates(
    whatsapp_asset, tmp_path, restored_name
):
    customer = Customer(whatsapp_asset)
    customer.start()
    while len(customer.acknowledged) < 10 and customer.is_alive():
        threading.Event().wait(0.01)
    acknowledged_before = list(customer.acknowledged)
    env = {**os.environ, "DATABASE_URL": database_url(connection.settings_dict["NAME"])}
    dump = tmp_path / "live.dump"

    backup = subprocess.run(
        ["bash", str(ROOT / "scripts" / "backup.sh"), str(dump)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    customer.join(timeout=120)

    assert backup.returncode == 0, backup.stderr
    assert customer.error is None, customer.error
    assert customer.next == DELIVERIES and len(customer.acknowledged) == DELIVERIES
    restore = subprocess.run(
        ["bash", str(ROOT / "scripts" / "restore.sh"), str(dump), database_url(restored_name)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert restore.returncode == 0, restore.stderr

    # Everything acknowledged before the backup began is in it, message and raw event.
    table, events = Message._meta.db_table, InboundEvent._meta.db_table
    restored_ids = {
        row[0] for row in in_database(restored_name, f"SELECT provider_message_id FROM {table}")
    }
    before = {f"wamid.backup-{n:04d}" for n in acknowledged_before}
    assert before <= restored_ids
    # The backup caught the live system part way: some later deliveries are not in it.
    assert len(restored_ids) < DELIVERIES

    # The restored system, a process of its own on the restored database, takes the providers'
    # redeliveries of everything sent since the backup began (here, conservatively, every
    # delivery, some twice), its worker processing each as it is stored.
    replay = [*range(DELIVERIES), *range(0, DELIVERIES, 7)]
    (tmp_path / "replay.json").write_text(json.dumps([delivery(n) for n in replay]))
    restored_system = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            REPLAY.format(path=tmp_path / "replay.json", asset=whatsapp_asset.pk),
        ],
        cwd=ROOT,
        env={
            **env,
            "DATABASE_URL": database_url(restored_name),
            "DATABASE_POOL": "false",
            "CELERY_EAGER": "true",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert restored_system.returncode == 0, restored_system.stderr[-2000:]
    statuses = [line for line in restored_system.stdout.splitlines() if line.isdigit()]
    assert statuses == ["200"] * len(replay)

    counts = in_database(
        restored_name,
        f"SELECT provider_message_id, count(*) FROM {table} GROUP BY provider_message_id",
    )
    assert sorted(counts) == [(f"wamid.backup-{n:04d}", 1) for n in range(DELIVERIES)]
    event_counts = in_database(
        restored_name,
        f"SELECT status, count(*), count(DISTINCT provider_event_id) FROM {events} GROUP BY status",
    )
    assert event_counts == [("processed", DELIVERIES, DELIVERIES)]
    # The live database, untouched by the replay, has each message once too.
    assert Message.objects.count() == DELIVERIES


def test_restore_refuses_a_database_that_already_exists(tmp_path):
    dump = tmp_path / "any.dump"
    dump.write_bytes(b"not read")

    result = subprocess.run(
        [
            "bash",
            str(ROOT / "scripts" / "restore.sh"),
            str(dump),
            database_url(connection.settings_dict["NAME"]),
        ],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 2
    assert "already exists" in result.stderr
