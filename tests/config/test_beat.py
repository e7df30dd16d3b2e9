"""Beat's scheduler reconnects to a broker that went away every half second, not with Celery's
back-off of 2, 4, 6, ... seconds that holds every swept timer after a Redis restart."""

import logging
import socket

import pytest
from kombu.exceptions import OperationalError

from config.beat import RECONNECT_SECONDS, Scheduler
from config.celery import app as celery_app


def test_the_project_runs_beat_with_its_own_scheduler(settings):
    assert settings.CELERY_BEAT_SCHEDULER == "config.beat:Scheduler"
    assert celery_app.conf.beat_scheduler == "config.beat:Scheduler"


def test_beat_tries_the_broker_again_every_half_second(tmp_path, caplog):
    with socket.socket() as sock:  # a port nobody listens on: the broker is away
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    connection = celery_app.connection_for_write(f"redis://127.0.0.1:{port}/0")
    scheduler = Scheduler(app=celery_app, schedule_filename=str(tmp_path / "schedule"), lazy=True)
    scheduler.__dict__["connection"] = connection  # the cached property, on the dead broker
    previous = celery_app.conf.broker_connection_max_retries
    celery_app.conf.broker_connection_max_retries = 2
    try:
        with caplog.at_level(logging.ERROR, logger="config.beat"):
            with pytest.raises(OperationalError):
                scheduler._ensure_connected()
    finally:
        celery_app.conf.broker_connection_max_retries = previous
        connection.release()

    retries = [r.getMessage() for r in caplog.records if r.name == "config.beat"]
    assert retries and all(f"Trying again in {RECONNECT_SECONDS} seconds" in m for m in retries)


def test_the_sweeps_have_a_queue_of_their_own_that_every_worker_consumes(settings):
    """Behind a backlog of intake work a sweep would wait past its expiry and be dropped."""
    timers = settings.CELERY_TIMERS_QUEUE
    router = celery_app.amqp.router
    for name in ("routing.tasks.sweep_due_timers", "routing.flows.tasks.sweep_flow_timers"):
        assert router.route({}, name)["queue"].name == timers
    assert router.route({}, "channels_app.tasks.process_inbound_event")["queue"].name == (
        settings.CELERY_TASK_DEFAULT_QUEUE
    )
    # A worker started without -Q (as the README starts it) consumes every queue declared here.
    declared = [queue.name for queue in settings.CELERY_TASK_QUEUES]
    assert declared == [settings.CELERY_TASK_DEFAULT_QUEUE, timers]
    assert set(declared) <= set(celery_app.amqp.queues)
