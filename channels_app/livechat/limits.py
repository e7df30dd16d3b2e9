"""Abuse limits for the widget: fixed-window counters every ASGI and web process shares.

With REDIS_URL set (every deployment and the tests) the counters live in Redis, so a visitor
who spreads requests over several processes or nodes meets one limit; the embedded single-process
setup counts in Django's cache.
"""

import logging
from functools import lru_cache

import redis
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

PREFIX = "livechat:limit:"
# (limit, window in seconds); settings.LIVECHAT_RATE_LIMITS overrides them.
LIMITS = {
    "message_visitor": (20, 60),
    "message_ip": (60, 60),
    "session_ip": (10, 60),
    "conversation_visitor": (3, 600),
    "conversation_ip": (10, 600),
    "upload_visitor": (5, 60),
    "upload_ip": (20, 60),
    "transcript_visitor": (10, 60),
}


@lru_cache(maxsize=4)
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def limit_of(what: str) -> tuple[int, int]:
    return {**LIMITS, **getattr(settings, "LIVECHAT_RATE_LIMITS", {})}[what]


def limit_hit(*, what: str, key: str) -> bool:
    """Counts one request; True once the window's limit is passed."""
    limit, window = limit_of(what)
    name = f"{PREFIX}{what}:{key}"
    if settings.REDIS_URL:
        pipe = _redis(settings.REDIS_URL).pipeline(transaction=True)
        # The window starts with the first request: the key is created with its expiry.
        pipe.set(name, 0, ex=window, nx=True)
        pipe.incr(name)
        try:
            count = pipe.execute()[1]
        except redis.RedisError:
            # Redis restarting must not turn a visitor's message into a server error: the
            # message is stored in PostgreSQL all the same, uncounted for that moment.
            logger.warning("live-chat limit %s not counted: Redis did not answer", what)
            return False
        return count > limit
    cache.add(name, 0, timeout=window)
    try:
        count = cache.incr(name)
    except ValueError:
        cache.set(name, 1, timeout=window)
        count = 1
    return count > limit


def limits_reset() -> int:
    """Forgets every counter (an operator lifting a block; the tests between cases)."""
    if not settings.REDIS_URL:
        return 0
    client = _redis(settings.REDIS_URL)
    names = list(client.scan_iter(match=f"{PREFIX}*", count=500))
    return client.delete(*names) if names else 0
