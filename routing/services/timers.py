"""The sweep of routing's due_at columns, run every second by Celery beat (or the embedded ticker)."""

import logging
from datetime import datetime

from django.utils import timezone

from routing.services.router import route_waiting_queues
from routing.services.tasks import offers_expire_due, tasks_overflow_due, tasks_relax_due

logger = logging.getLogger(__name__)


def timers_sweep(*, now: datetime | None = None, route: bool = True) -> dict[str, int]:
    """Expires due offers (RONA), applies due relaxation steps, moves overflowing tasks, and then
    gives every queue with waiting tasks a routing pass, which also recovers a routing run that a
    lost worker never finished."""
    now = now or timezone.now()
    result = {
        "expired": offers_expire_due(now=now),
        "relaxed": tasks_relax_due(now=now),
        "overflowed": tasks_overflow_due(now=now),
    }
    result["offered"] = route_waiting_queues() if route else 0
    return result
