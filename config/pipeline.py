"""The follow-up work of one inbound event, done by the worker that processed it.

Processing an inbound event used to fan out into a chain of Celery tasks (normalize, flow run,
routing, greeting delivery), each waiting in the broker queue behind the others. Inside
`inbound_pipeline()` the services hand their follow-ups here instead of to the broker: they run in
the same worker right after the event's commit, routing first, outbound deliveries last, so the
offer does not wait for the provider's answer to the greeting.

Each follow-up comes with a fallback (the Celery task it replaces): a follow-up that raises is
handed to the broker instead, so nothing is dropped. A worker lost before its follow-ups ran is
covered by the safety nets that already exist for lost tasks (the routing sweep passes every queue
with waiting tasks; outbound messages stay pending with their claim lease).

Outside the pipeline (web requests, agents' actions, other tasks) `defer` sends the fallback to
the broker at once, as before.
"""

import logging
import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

logger = logging.getLogger(__name__)

ROUTE = 0  # routing runs first: it is what the waiting customer and agent are held up by
DELIVER = 1  # outbound deliveries next: a provider's slow answer must not hold up an offer

# A follow-up may defer more follow-ups; this bounds a run that keeps feeding itself.
MAX_FOLLOW_UPS = 200

_local = threading.local()


@dataclass
class _FollowUp:
    order: int
    key: Hashable
    run: Callable[[], object]
    fallback: Callable[[], object]


def active() -> bool:
    return getattr(_local, "pending", None) is not None


def defer(
    *, order: int, key: Hashable, run: Callable[[], object], fallback: Callable[[], object]
) -> None:
    """Runs `run` at the end of the current pipeline (once per key), or `fallback` now outside one.

    Call it after commit (from an on_commit hook): a follow-up must see what its cause stored.
    """
    pending: dict | None = getattr(_local, "pending", None)
    if pending is None:
        fallback()
        return
    pending.setdefault(key, _FollowUp(order=order, key=key, run=run, fallback=fallback))


def _drain(pending: dict) -> int:
    done = 0
    while pending:
        follow_up = min(pending.values(), key=lambda f: f.order)
        del pending[follow_up.key]
        if done >= MAX_FOLLOW_UPS:
            follow_up.fallback()
            continue
        done += 1
        try:
            follow_up.run()
        except Exception:
            logger.exception("follow-up %s failed; handing it to the task queue", follow_up.key)
            try:
                follow_up.fallback()
            except Exception:
                logger.exception("follow-up %s could not be queued either", follow_up.key)
    return done


@contextmanager
def inbound_pipeline() -> Iterator[None]:
    """Collects the follow-ups deferred inside the block and runs them when it ends.

    Re-entrant: an inner block leaves its follow-ups to the outermost one.
    """
    if active():
        yield
        return
    _local.pending = {}
    try:
        yield
        pending = _local.pending
    except BaseException:
        pending = _local.pending
        _local.pending = None
        # The cause failed after some commits: whatever they deferred still has to happen.
        for follow_up in sorted(pending.values(), key=lambda f: f.order):
            try:
                follow_up.fallback()
            except Exception:
                logger.exception("follow-up %s could not be queued", follow_up.key)
        raise
    try:
        _drain(pending)
    finally:
        _local.pending = None
