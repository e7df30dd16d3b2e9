"""Queueing a task after commit when the broker may be away (a Redis restart, a failover).

What a request or a service stored is the truth; the task it queues only does the next step
sooner. Every such next step is also found by a periodic sweep (stale inbound events, due timers
and waiting queues, pending outbound messages), so when the broker does not answer the work is
left to the sweep: the caller's request succeeds instead of answering 500 for something it stored.
"""

import logging
from typing import Any

from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


def enqueue(task: Any, *args: Any) -> bool:
    """task.delay(*args); False (logged) when the broker cannot be reached."""
    try:
        task.delay(*args)
    except (OperationalError, RedisError) as exc:
        logger.warning("broker unavailable, %s%r left to its sweep: %s", task.name, args, exc)
        return False
    return True
