"""The visitor's socket: no Django session. It authenticates by the widget's allowed origins and
the visitor token, joins only the visitor's own group, and hands each frame to a service.

Close codes: 4403 origin not allowed, 4401 missing or forged token, 4404 no such widget.
Frames in: {"type": "message", "client_id", "text", "name"?, "fields"?}, {"type": "typing"}.
Frames out: {"type": "event", "event": "message" | "read" | "agent" | "typing", "payload"},
{"type": "ack", "data"} for an own message, {"type": "error", "reason", "client_id"?}.
"""

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from channels_app.livechat import services
from channels_app.providers.livechat.transport import visitor_group

CLOSE_NOT_ALLOWED = 4403
CLOSE_BAD_TOKEN = 4401
CLOSE_NO_WIDGET = 4404


class VisitorConsumer(AsyncJsonWebsocketConsumer):
    widget = None
    visitor = ""
    group = ""

    async def connect(self):
        await self.accept()
        widget_id = self.scope["url_route"]["kwargs"]["widget_id"]
        self.widget = await database_sync_to_async(services.widget_for)(widget_id=widget_id)
        if self.widget is None:
            await self.close(code=CLOSE_NO_WIDGET)
            return
        headers = dict(self.scope.get("headers", []))
        origin = headers.get(b"origin", b"").decode("latin1")
        host = headers.get(b"host", b"").decode("latin1")
        if not services.origin_allowed(widget=self.widget, origin=origin, host=host):
            await self.close(code=CLOSE_NOT_ALLOWED)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode())
        token = (query.get("token") or [""])[0]
        try:
            self.visitor = services.visitor_from_token(widget=self.widget, token=token)
        except services.VisitorRefused:
            await self.close(code=CLOSE_BAD_TOKEN)
            return
        self.group = visitor_group(self.visitor)
        await self.channel_layer.group_add(self.group, self.channel_name)
        history = await database_sync_to_async(services.visitor_history)(
            widget=self.widget, visitor=self.visitor
        )
        await self.send_json({"type": "history", "messages": history})

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if not self.group or not isinstance(content, dict):
            return
        kind = content.get("type")
        client = self.scope.get("client") or ("unknown", 0)
        try:
            if kind == "message":
                data = await database_sync_to_async(services.visitor_message_post)(
                    widget=self.widget,
                    visitor=self.visitor,
                    client_id=str(content.get("client_id") or ""),
                    text=str(content.get("text") or ""),
                    name=str(content.get("name") or ""),
                    ip=str(client[0]),
                    fields=content.get("fields"),
                )
                await self.send_json({"type": "ack", "data": data})
            elif kind == "typing":
                await database_sync_to_async(services.visitor_typing)(
                    widget=self.widget, visitor=self.visitor
                )
            else:
                await self.send_json({"type": "error", "reason": f"unknown frame type {kind!r}"})
        except services.VisitorRefused as exc:
            await self.send_json(
                {"type": "error", "reason": exc.reason, "client_id": content.get("client_id", "")}
            )

    async def push_event(self, message):
        await self.send_json(
            {"type": "event", "event": message["event"], "payload": message["payload"]}
        )

    async def push_events(self, message):
        for item in message["events"]:
            await self.send_json(
                {"type": "event", "event": item["event"], "payload": item["payload"]}
            )
