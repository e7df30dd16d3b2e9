import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

# Imported after Django is set up: consumers import models.
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from channels_app.livechat.routing import VisitorSocketSplit  # noqa: E402
from config.websocket_auth import AuthMiddlewareStack  # noqa: E402
from config.websockets import OriginValidator, websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": VisitorSocketSplit(
            OriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
        ),
    }
)

if settings.EMBEDDED_TICKER:
    from config.ticker import start_ticker

    start_ticker()
