"""The in-process ticker: runs CELERY_BEAT_SCHEDULE inside the server when there is no beat.

Only for the embedded single-process setup. Each entry runs eagerly in a daemon thread at its
interval; a failing run is logged and retried at the next tick.
"""

import logging
import threading
import time

from django.conf import settings

logger = logging.getLogger(__name__)
_started = threading.Event()


def run_due(last_run: dict[str, float], now: float) -> None:
    from config.celery import app

    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        interval = entry["schedule"].total_seconds()
        if now - last_run.get(name, 0.0) < interval:
            continue
        last_run[name] = now
        task = app.tasks.get(entry["task"])
        if task is None:
            continue
        try:
            task.apply()
        except Exception:  # a sweep must never kill the ticker
            logger.exception("periodic task %s failed", name)


def _loop() -> None:
    from django.db import close_old_connections

    last_run: dict[str, float] = {}
    while True:
        run_due(last_run, time.monotonic())
        close_old_connections()
        time.sleep(0.5)


def start_ticker() -> None:
    if _started.is_set():
        return
    _started.set()
    threading.Thread(target=_loop, name="embedded-ticker", daemon=True).start()
