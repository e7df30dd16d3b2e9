"""The visitor socket sits outside the agents' stack: no session, no global Origin check (the
widget's own allowed origins apply, in the consumer)."""

from channels.routing import URLRouter
from django.urls import path

from channels_app.livechat.consumers import VisitorConsumer

visitor_router = URLRouter([path("ws/livechat/<uuid:widget_id>/", VisitorConsumer.as_asgi())])


class VisitorSocketSplit:
    """Sends /ws/livechat/ to the visitor router and every other socket to `agents`."""

    def __init__(self, agents):
        self.agents = agents

    async def __call__(self, scope, receive, send):
        if scope.get("path", "").startswith("/ws/livechat/"):
            return await visitor_router(scope, receive, send)
        return await self.agents(scope, receive, send)
