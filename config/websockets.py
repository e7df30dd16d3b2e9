"""Websocket URL patterns and the Origin check every socket passes through."""

from urllib.parse import urlparse

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.urls import path

websocket_urlpatterns: list = []


class OriginValidator:
    """Accepts a websocket only from an allowed origin, or from the host that served the page.

    Browsers always send Origin on websockets; a missing or foreign one is refused before any
    consumer runs (close code 1006 at the client, HTTP 403 on the handshake).
    """

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers", []))
        origin = headers.get(b"origin", b"").decode("latin1")
        host = headers.get(b"host", b"").decode("latin1")
        if origin and self.allowed(origin=origin, host=host):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)

    @staticmethod
    def allowed(*, origin: str, host: str) -> bool:
        allowed = settings.WEBSOCKET_ALLOWED_ORIGINS
        if origin in allowed or "*" in allowed:
            return True
        return bool(host) and urlparse(origin).netloc == host


def register(route: str, consumer) -> None:
    """Apps add their consumers here (keeps config free of imports of app internals)."""
    websocket_urlpatterns.append(path(route, consumer.as_asgi()))
