"""The sockets' sign-in: channels' AuthMiddlewareStack, with the connect-time reads in a pool.

channels runs every database call of a socket in one shared thread. When all desktops reconnect
at once (a server restart, a network blip), their session, user and snapshot reads would queue
there one after another, each waiting on its own database round trip. Reads at connect time run in
a small pool of threads instead, each with its own connection from the database pool, so their
round trips overlap.
"""

import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from channels.auth import AuthMiddleware, get_user
from channels.db import database_sync_to_async
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.db import connections

# Well below the database pool's size (DATABASE_POOL_MAX, 20): each thread holds a connection
# only while it reads.
CONNECT_READ_THREADS = 8
_connect_reads = ThreadPoolExecutor(
    max_workers=CONNECT_READ_THREADS, thread_name_prefix="socket-connect"
)


def connect_read(fn: Callable[..., Any]) -> Callable[..., Any]:
    """fn (a read, no writes) made awaitable on the connect-time pool."""

    @functools.wraps(fn)
    def read(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        finally:
            # Back to the database pool: these threads outlive any one socket or test.
            connections.close_all()

    return database_sync_to_async(read, thread_sensitive=False, executor=_connect_reads)


class PooledAuthMiddleware(AuthMiddleware):
    """Populates scope["user"] from the session as channels' AuthMiddleware does, on the pool."""

    async def resolve_scope(self, scope):
        scope["user"]._wrapped = await connect_read(get_user.func)(scope)


def AuthMiddlewareStack(inner):  # noqa: N802  (the name of the stack it stands in for)
    return CookieMiddleware(SessionMiddleware(PooledAuthMiddleware(inner)))
