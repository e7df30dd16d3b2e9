"""The agent desktop's socket: authenticate in connect, forward the agent's own group, run actions.

Close codes: 4401 not signed in, 4403 signed in but not an agent. Every action gets one reply
{"type": "reply", "request_id", "ok", "data" | "error"}; pushes arrive as {"type": "event", ...}.
"""

import logging

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.http import Http404

from config import safejson
from config.websocket_auth import connect_read
from routing.desktop.actions import ACTIONS
from routing.desktop.selectors import desktop_agent, desktop_snapshot
from tenants.middleware import SESSION_KEY
from tenants.realtime import agent_group

logger = logging.getLogger(__name__)

CLOSE_NOT_SIGNED_IN = 4401
CLOSE_NOT_AN_AGENT = 4403


def _error_text(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(
            f"{field}: {' '.join(msgs)}" if field != "__all__" else " ".join(msgs)
            for field, msgs in exc.message_dict.items()
        )
    return " ".join(exc.messages)


class DesktopConsumer(AsyncJsonWebsocketConsumer):
    agent = None
    group = ""

    async def dispatch(self, message):
        """As channels dispatches, without its hop to the shared thread before every message to
        close old database connections: this consumer reaches the database only through
        database_sync_to_async, which closes them around each call in the thread it uses. The
        hop queued every connect and every push behind the other sockets' database work."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self):
        user = self.scope.get("user")
        # Accept first so the browser sees the close code and its reason.
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_NOT_SIGNED_IN)
            return
        session = self.scope.get("session")
        chosen = session.get(SESSION_KEY) if session is not None else None
        # Two reads on the connect-time pool: after a restart every desktop connects at once.
        self.agent = await connect_read(desktop_agent)(user=user, chosen_tenant_id=chosen)
        if self.agent is None:
            await self.close(code=CLOSE_NOT_AN_AGENT)
            return
        self.group = agent_group(self.agent.pk)
        # Join before reading, so nothing pushed in between is missed.
        await self.channel_layer.group_add(self.group, self.channel_name)
        snapshot = await connect_read(desktop_snapshot)(agent=self.agent)
        await self.send_json({"type": "snapshot", "data": snapshot})

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if self.agent is None:
            return
        if not isinstance(content, dict):
            await self.send_json(
                {
                    "type": "reply",
                    "request_id": None,
                    "ok": False,
                    "error": "send a JSON object with an 'action'",
                }
            )
            return
        request_id = content.get("request_id")
        action = content.get("action")
        handler = ACTIONS.get(action) if isinstance(action, str) else None
        if handler is None:
            await self.send_json(
                {
                    "type": "reply",
                    "request_id": request_id,
                    "ok": False,
                    "error": f"unknown action {action!r}; one of {', '.join(ACTIONS)}",
                }
            )
            return
        params = content.get("params") or {}
        if not isinstance(params, dict):
            await self.send_json(
                {
                    "type": "reply",
                    "request_id": request_id,
                    "ok": False,
                    "error": "'params' must be an object",
                }
            )
            return
        try:
            data = await database_sync_to_async(handler)(agent=self.agent, params=params)
        except ValidationError as exc:
            reply = {"ok": False, "error": _error_text(exc)}
        except (Http404, ObjectDoesNotExist):
            reply = {"ok": False, "error": "not found"}
        else:
            reply = {"ok": True, "data": data}
        await self.send_json({"type": "reply", "request_id": request_id, "action": action, **reply})

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if text_data is None:
            await self.send_json(
                {"type": "reply", "request_id": None, "ok": False, "error": "send text frames"}
            )
            return
        try:
            content = await self.decode_json(text_data)
        except safejson.UnsafeJSON:
            # The socket stays up: a bad frame (not JSON, nested too deep) gets an error reply.
            await self.send_json(
                {"type": "reply", "request_id": None, "ok": False, "error": "malformed JSON"}
            )
            return
        await self.receive_json(content, **kwargs)

    @classmethod
    async def decode_json(cls, text_data):
        return safejson.loads(text_data)

    async def push_event(self, message):
        """Group handler: only filter and forward."""
        payload = message.get("payload") or {}
        agent_id = payload.get("agent_id")
        if agent_id is not None and agent_id != self.agent.pk:
            return
        await self.send_json({"type": "event", "event": message.get("event"), "payload": payload})

    async def push_events(self, message):
        """Group handler for a batch: each event goes to the desktop as its own frame, as ever."""
        for event in message.get("events") or []:
            await self.push_event(event)
