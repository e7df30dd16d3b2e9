"""Malware scanning: clamd's throughput for 1 MB files, and the latency a scan adds per inbound
attachment (from the commit that stores it to the moment it is downloadable).

1. scan_bytes() on 1 MB files over clamd's socket (INSTREAM): sequentially, and from 2 threads
   at once (clamd scans in parallel); two kinds of file: random bytes, and a ZIP archive of text
   (clamd unpacks it and scans what is inside).
2. attachment_scan(), the task's service, on stored 1 MB attachments: read the file from
   storage, scan it, mark it clean, push the hint. This is the latency scanning adds to an inbound
   attachment; the webhook and the inbound pipeline do not wait for it.

Uses the clamd at CLAMD_SOCKET (scripts/ensure-clamd.sh starts the project's own, with the test
signature database: the engine and the transport are measured, not the size of a production
signature set) and a PostgreSQL database of its own:

    source scripts/ensure-clamd.sh
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_scan \\
        .venv/bin/python bench/scan_throughput.py [--files 40]
"""

import argparse
import io
import json
import os
import random
import statistics
import string
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from routing_setup import ROOT, django_setup

MB = 1024 * 1024
RESULTS = ROOT / "bench" / "results" / "scan_throughput.json"


def random_file() -> bytes:
    return os.urandom(MB)


def zip_file() -> bytes:
    """A ZIP archive of about 1 MB holding text files (stored, so clamd unpacks ~1 MB)."""
    rng = random.Random(7)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for n in range(16):
            words = " ".join(
                "".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9)))
                for _ in range(11_000)
            )
            archive.writestr(f"doc{n}.txt", words[: MB // 16])
    return out.getvalue()


def _stats(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def bench_scan_bytes(make, files: int) -> dict:
    from channels_app.scanning import scan_bytes

    blobs = [make() for _ in range(files)]
    assert scan_bytes(blobs[0]).status == "clean", "clamd is not answering (CLAMD_SOCKET)"
    # clamd's first scans after a quiet spell are several times slower (its threads and buffers
    # warm up): a round of warm-up scans, untimed.
    for blob in blobs[:10]:
        scan_bytes(blob)
    timings = []
    started = time.perf_counter()
    for blob in blobs:
        t0 = time.perf_counter()
        verdict = scan_bytes(blob)
        timings.append(time.perf_counter() - t0)
        assert verdict.status == "clean", verdict
    sequential = time.perf_counter() - started
    megabytes = sum(len(b) for b in blobs) / MB

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        verdicts = list(pool.map(scan_bytes, blobs))
    parallel = time.perf_counter() - started
    assert all(v.status == "clean" for v in verdicts)
    return {
        "files": files,
        "size_bytes": len(blobs[0]),
        "per_scan": _stats(timings),
        "sequential_files_per_s": round(files / sequential, 1),
        "sequential_mb_per_s": round(megabytes / sequential, 1),
        "two_threads_files_per_s": round(files / parallel, 1),
        "two_threads_mb_per_s": round(megabytes / parallel, 1),
    }


def bench_attachment_scan(files: int) -> dict:
    from django.db import transaction
    from routing_setup import tenant_reset

    from channels_app.media import attachment_file_store
    from channels_app.models import Attachment, Message
    from channels_app.services.attachments import attachment_scan
    from tests.routing.factories import make_conversation

    tenant = tenant_reset("bench-scan")
    conversation = make_conversation(tenant=tenant, kind="whatsapp", text="photo")
    message = Message.objects.filter(conversation=conversation).first()
    store, scan = [], []
    ids = []
    for _ in range(files):
        data = random_file()
        t0 = time.perf_counter()
        with transaction.atomic():
            attachment = Attachment(tenant=tenant, message=message, scan_status="pending")
            attachment_file_store(attachment=attachment, data=data)
            attachment.save()
        store.append(time.perf_counter() - t0)
        ids.append(attachment.pk)
    for attachment_id in ids:
        t0 = time.perf_counter()
        outcome = attachment_scan(attachment_id=attachment_id)
        scan.append(time.perf_counter() - t0)
        assert outcome == "clean", outcome
    for attachment in Attachment.objects.filter(pk__in=ids):
        attachment.file.delete(save=False)
    tenant_reset("bench-scan", create=False)
    return {
        "files": files,
        "store_1mb_attachment": _stats(store),
        "scan_added_per_attachment": _stats(scan),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=40)
    args = parser.parse_args()
    django_setup()
    from django.conf import settings
    from django.core.management import call_command

    if not settings.CLAMD_SOCKET:
        raise SystemExit("Set CLAMD_SOCKET (source scripts/ensure-clamd.sh)")
    call_command("migrate", verbosity=0)
    results = {
        "load_average_at_start": os.getloadavg(),
        "scan_bytes_random_1mb": bench_scan_bytes(random_file, args.files),
        "scan_bytes_zip_1mb": bench_scan_bytes(zip_file, args.files),
        "attachment_scan_1mb": bench_attachment_scan(args.files),
        "load_average_at_end": os.getloadavg(),
    }
    print(json.dumps(results, indent=2))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {Path(RESULTS).relative_to(ROOT)}")


if __name__ == "__main__":
    main()
