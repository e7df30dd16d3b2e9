"""Celery beat's scheduler for this project: the persistent one, reconnecting to the broker every
half second. Celery's default backs off 2, 4, 6, ... seconds after the broker went away, and every
timer swept once a second (RONA, skill relaxation, flow waits) waits that long after a Redis
restart (the soak harness measured 9 s, docs/reliability.md)."""

import logging

from celery.beat import PersistentScheduler

logger = logging.getLogger(__name__)

RECONNECT_SECONDS = 0.5


class Scheduler(PersistentScheduler):
    def _ensure_connected(self):
        def _error_handler(exc, interval):
            logger.error("beat: Connection error: %s. Trying again in %s seconds...", exc, interval)

        return self.connection.ensure_connection(
            _error_handler,
            self.app.conf.broker_connection_max_retries,
            interval_start=RECONNECT_SECONDS,
            interval_step=0,
            interval_max=RECONNECT_SECONDS,
        )
