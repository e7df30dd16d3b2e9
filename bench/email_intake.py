"""Benchmark: email intake from the project's Dovecot on PostgreSQL.

Measures, for N mails (a third plain, a third HTML with a table, a third HTML with an inline image
and a PDF attachment) appended to a fresh IMAP mailbox:
- IMAP intake: mails/s stored as raw events (UID search, BODY.PEEK fetch, one insert and the UID's
  advance per mail, processing queued on Redis to a queue nobody consumes);
- parsing: mails/s through the provider's parse (MIME, sanitizing, threading headers);
- processing: mails/s through inbound_event_process (customer, conversation, message, attachment
  files; the asset has no entry point, so no flow runs).

    .venv/bin/python bench/email_intake.py [--mails 300]   # about 1 minute

Dovecot is the one scripts/test.sh starts (scripts/ensure-mail-servers.sh): run the email tests
once first.

It recreates the database bench_email on the local PostgreSQL and uses Redis db 7 with its own
queue name (deleted afterwards).
"""

import argparse
import base64
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "bench_email"
QUEUE = "bench-email-intake"
os.environ.update(
    {
        "DATABASE_URL": f"{PG}/{DB_NAME}",
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7"),
        "CELERY_QUEUE": QUEUE,
        "CELERY_EAGER": "0",
        "EMBEDDED_TICKER": "0",
        "SANDBOX_PROVIDER": "0",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LOG_LEVEL": "WARNING",
        "OUTBOUND_ALLOWED_HOSTS": "127.0.0.1",
        # The settings check wants a real mail backend outside the embedded setup.
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    }
)


def recreate_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")
        connection.execute(f"CREATE DATABASE {DB_NAME}")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0", "--skip-checks"],
        check=True,
        cwd=ROOT,
        env=os.environ,
    )


def mails(count: int) -> list[bytes]:
    sys.path.insert(0, str(ROOT))
    from tests.channels_app.email_support import mail

    out = []
    for index in range(count):
        sender = f"Customer {index % 50} <customer{index % 50}@example.org>"
        if index % 3 == 0:
            out.append(mail(sender=sender, text=f"Plain question {index}"))
        elif index % 3 == 1:
            out.append(
                mail(
                    sender=sender,
                    html="<p>Order:</p><table><tr><td>Shoes</td><td>2</td></tr></table>"
                    "<script>x()</script>",
                )
            )
        else:
            out.append(
                mail(
                    sender=sender,
                    html='<p>Logo <img src="cid:logo@x"></p>',
                    inline_png="logo@x",
                    attachment=(
                        "invoice.pdf",
                        b"%PDF-1.4\n" + b"0" * 20000 + b"\n%%EOF\n",
                        "application/pdf",
                    ),
                )
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mails", type=int, default=300)
    args = parser.parse_args()
    port_file = ROOT / "var" / "mail-servers" / "port"
    if not port_file.exists():
        sys.exit(
            "no Dovecot: run `bash scripts/test.sh tests/channels_app/test_email_imap.py` first"
        )
    port = int(port_file.read_text())
    # Throwaway keys, so the bench runs from a plain shell.
    os.environ.setdefault("SECRET_KEY", "bench-" + uuid.uuid4().hex + uuid.uuid4().hex)
    os.environ.setdefault(
        "FIELD_ENCRYPTION_KEYS", base64.urlsafe_b64encode(os.urandom(32)).decode()
    )
    recreate_database()

    import django

    django.setup()
    import imaplib

    import redis
    from django.conf import settings

    from channels_app.models import ChannelKind, EmailIntake, InboundEvent, Message
    from channels_app.providers.email import PROVIDER, imap
    from channels_app.providers.email.connect import imap_login
    from channels_app.services import inbound_event_process
    from tests.factories import ChannelAssetFactory, TenantFactory

    tenant = TenantFactory(name="Bench", slug="bench")
    user = f"bench-{uuid.uuid4().hex[:8]}"
    asset = ChannelAssetFactory(
        tenant=tenant,
        kind=ChannelKind.EMAIL,
        name="Bench mail",
        email_address="bench@acme.test",
        email_intake=EmailIntake.IMAP,
        imap_host="127.0.0.1",
        imap_port=port,
        imap_security="none",
        imap_user=user,
        imap_password="test-mail-password",
        smtp_host="127.0.0.1",
    )
    raw_mails = mails(args.mails)
    feeder = imaplib.IMAP4("127.0.0.1", port)
    feeder.login(user, "test-mail-password")
    for raw in raw_mails:
        feeder.append("INBOX", None, None, raw)
    feeder.logout()

    client = imap_login(asset)
    started = time.perf_counter()
    stored = 0
    while True:
        got = imap.mailbox_fetch_new(asset, client)
        stored += got
        if not got:
            break
    intake_seconds = time.perf_counter() - started
    client.logout()
    assert stored == args.mails, stored

    events = list(InboundEvent.objects.filter(asset=asset).order_by("pk"))
    started = time.perf_counter()
    for event in events:
        PROVIDER.parse(asset, event.body, event.content_type)
    parse_seconds = time.perf_counter() - started

    started = time.perf_counter()
    for event in events:
        inbound_event_process(event_id=event.pk)
    process_seconds = time.perf_counter() - started
    assert Message.objects.filter(asset=asset).count() == args.mails

    redis.Redis.from_url(settings.REDIS_URL).delete(QUEUE)
    load = os.getloadavg()
    result = {
        "mails": args.mails,
        "imap_intake_per_s": round(args.mails / intake_seconds, 1),
        "parse_per_s": round(args.mails / parse_seconds, 1),
        "process_per_s": round(args.mails / process_seconds, 1),
        "load_average": [round(x, 2) for x in load],
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / "email_intake.json"
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
