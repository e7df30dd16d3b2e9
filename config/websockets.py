"""Websocket URL patterns and the Origin check every socket passes through."""

from urllib.parse import urlparse

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.urls import path

from care_console.consumers import CareConsumer
from routing.desktop.consumers import DesktopConsumer

websocket_urlpatterns = [
    path("ws/desktop/", DesktopConsumer.as_asgi()),
    path("ws/care/", CareConsumer.as_asgi()),
]


class OriginValidator:
    """Accepts a websocket only from an allowed origin, or from the host that served the page.

    Browsers always send Origin on websockets; a missing or foreign one is refused before any
    consumer runs (HTTP 403 on the handshake).
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
