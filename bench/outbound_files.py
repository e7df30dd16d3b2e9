"""Benchmark: what sending a file costs, from the agent's upload to the provider's answer.

In one process against the real pieces: PostgreSQL, the project's clamd (CLAMD_SOCKET, as
scripts/test.sh starts it), and the fake provider on loopback. For each channel and file size it
times message_send_file (type check by content, the template rule, storing the file) and the
delivery (reading it back, the clamd scan, the provider's media upload, the send), split into
the scan and the rest. It also times a WhatsApp template list refresh of 250 templates (3 pages).

    CLAMD_SOCKET=var/clamav/clamd.sock .venv/bin/python bench/outbound_files.py
    .venv/bin/python bench/outbound_files.py --runs 20 --sizes 100000,1000000

It recreates the database bench_send_outbound and writes bench/results/outbound_files.json.
"""

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "bench_send_outbound"
RESULTS = ROOT / "bench" / "results" / "outbound_files.json"
ENV = {
    **os.environ,
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DATABASE_URL": f"{PG}/{DB_NAME}",
    "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6"),
    "CELERY_EAGER": "true",
    "EMBEDDED_TICKER": "false",
    "CHANNEL_LAYER_PREFIX": "bench-send",
    "OUTBOUND_ALLOWED_HOSTS": "127.0.0.1",
    "MEDIA_ROOT": tempfile.mkdtemp(prefix="bench-send-media-"),
    "SECRET_KEY": os.environ.get("SECRET_KEY") or base64.b64encode(os.urandom(40)).decode(),
    "FIELD_ENCRYPTION_KEYS": os.environ.get("FIELD_ENCRYPTION_KEYS")
    or base64.urlsafe_b64encode(os.urandom(32)).decode(),
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "HTTPS": "false",
    "DEBUG": "false",
    "LOG_LEVEL": "WARNING",
}
ENV.setdefault("CLAMD_SOCKET", str(ROOT / "var" / "clamav" / "clamd.sock"))
ENV.pop("TEST_DATABASE_NAME", None)


def recreate_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=ENV, check=True
    )


def ms(values: list[float]) -> dict:
    values = sorted(values)
    return {
        "p50_ms": round(statistics.median(values) * 1000, 1),
        "max_ms": round(values[-1] * 1000, 1),
    }


def pdf_of(size: int) -> bytes:
    """A PDF-typed file of about `size` bytes (random, so compression does not help anyone)."""
    head = b"%PDF-1.4\n1 0 obj<<>>stream\n"
    tail = b"\nendstream endobj\ntrailer<<>>\n%%EOF\n"
    return head + os.urandom(max(0, size - len(head) - len(tail))) + tail


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--sizes", default="100000,1000000,5000000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    recreate_database()
    os.environ.update(ENV)
    import django

    django.setup()
    from django.db import transaction
    from django.utils import timezone

    from channels_app.models import ChannelAsset, Conversation, Customer, CustomerIdentity
    from channels_app.sandbox.fake_provider import TEMPLATES, FakeProvider, start_in_thread
    from channels_app.scanning import scan_bytes, scanner_configured
    from channels_app.services import message_deliver, message_send_file
    from channels_app.services.whatsapp_templates import whatsapp_templates_refresh
    from tenants.models import Tenant

    if not scanner_configured() or scan_bytes(b"ping").status != "clean":
        sys.exit(f"clamd does not answer at {ENV['CLAMD_SOCKET']}: run scripts/test.sh once")
    server, provider, base_url = start_in_thread(FakeProvider())
    tenant = Tenant.objects.create(name="Bench", slug="bench")
    assets = {
        "whatsapp": ChannelAsset.objects.create(
            tenant=tenant,
            kind="whatsapp",
            name="WA",
            wa_phone_number_id="1001",
            wa_business_account_id="2002",
            access_token="token",
            api_base_url=f"{base_url}/whatsapp",
        ),
        "messenger": ChannelAsset.objects.create(
            tenant=tenant,
            kind="messenger",
            name="FB",
            fb_page_id="3003",
            access_token="token",
            api_base_url=f"{base_url}/messenger",
        ),
    }
    results: dict = {"runs": args.runs, "load_before": os.getloadavg(), "files": []}
    for kind, asset in assets.items():
        customer = Customer.objects.create(tenant=tenant, display_name=f"{kind} customer")
        identity = CustomerIdentity.objects.create(
            tenant=tenant, customer=customer, kind=kind, address="4915100000001"
        )
        conversation = Conversation.objects.create(
            tenant=tenant,
            asset=asset,
            customer=customer,
            identity=identity,
            kind=kind,
            last_inbound_at=timezone.now(),
        )
        for size in sizes:
            store, deliver, scan = [], [], []
            for _ in range(args.runs):
                data = pdf_of(size)
                started = time.perf_counter()
                with transaction.atomic():
                    # Delivered by hand below, not by the commit hook, to time it on its own.
                    message = message_send_file(
                        conversation=conversation,
                        data=data,
                        filename="bench.pdf",
                        author_kind="bot",
                    )
                    transaction.get_connection().run_on_commit = []
                stored = time.perf_counter()
                outcome = message_deliver(message_id=message.pk)
                delivered = time.perf_counter()
                assert outcome == "sent", outcome
                scan_started = time.perf_counter()
                scan_bytes(data)
                scan.append(time.perf_counter() - scan_started)
                store.append(stored - started)
                deliver.append(delivered - stored)
            row = {
                "channel": kind,
                "bytes": size,
                "store": ms(store),
                "scan_alone": ms(scan),
                "deliver_scan_upload_send": ms(deliver),
            }
            results["files"].append(row)
            print(json.dumps(row))
    provider.templates = [
        {**TEMPLATES[1], "name": f"notice_{n:03d}", "id": str(n)} for n in range(250)
    ]
    refresh = []
    for _ in range(args.runs):
        started = time.perf_counter()
        assert whatsapp_templates_refresh(asset=assets["whatsapp"]) == 250
        refresh.append(time.perf_counter() - started)
    results["template_refresh_250"] = ms(refresh)
    print(json.dumps({"template_refresh_250": results["template_refresh_250"]}))
    results["load_after"] = os.getloadavg()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    server.shutdown()


if __name__ == "__main__":
    main()
