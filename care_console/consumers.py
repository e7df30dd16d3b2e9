"""The care console's socket (/ws/care/): Live monitoring and watching one conversation.

connect: 4401 not signed in, 4403 not a supervisor or tenant admin; then the client gets a
snapshot and joins the tenant's supervisors group routing already publishes to. Pushes are hints:
a routing or agent-state push for a visible agent or queue is forwarded (ids only) and the client
re-reads with {"action": "sync"}. {"action": "watch", "conversation_id"} makes message pushes of
that conversation (if visible) come through as well.
"""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.core.exceptions import PermissionDenied
from django.http import Http404

from care_console.access import CareScope, care_scope_for_user, conversation_for_scope
from care_console.selectors import live_snapshot
from tenants.middleware import SESSION_KEY
from tenants.realtime import tenant_group
from tenants.selectors import tenant_current

CLOSE_NOT_SIGNED_IN = 4401
CLOSE_NOT_A_SUPERVISOR = 4403


def _scope_for(user, chosen_tenant_id) -> tuple[CareScope, set[int]]:
    tenant = tenant_current(user=user, chosen_id=chosen_tenant_id)
    scope = care_scope_for_user(user=user, tenant=tenant)
    return scope, set(scope.agents().values_list("pk", flat=True))


def _visible_conversation(scope: CareScope, conversation_id) -> int | None:
    try:
        return conversation_for_scope(scope=scope, conversation_id=conversation_id).pk
    except Http404:
        return None


class CareConsumer(AsyncJsonWebsocketConsumer):
    scope_: CareScope | None = None
    agent_ids: set[int] = set()
    watched: int | None = None
    group = ""

    async def connect(self):
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_NOT_SIGNED_IN)
            return
        session = self.scope.get("session")
        chosen = session.get(SESSION_KEY) if session is not None else None
        try:
            self.scope_, self.agent_ids = await database_sync_to_async(_scope_for)(user, chosen)
        except PermissionDenied:
            await self.close(code=CLOSE_NOT_A_SUPERVISOR)
            return
        self.group = tenant_group(self.scope_.tenant.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self._send_snapshot()

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def _send_snapshot(self):
        user = self.scope["user"]
        session = self.scope.get("session")
        chosen = session.get(SESSION_KEY) if session is not None else None
        self.scope_, self.agent_ids = await database_sync_to_async(_scope_for)(user, chosen)
        data = await database_sync_to_async(live_snapshot)(scope=self.scope_)
        await self.send_json({"type": "snapshot", "data": data})

    async def receive_json(self, content, **kwargs):
        if self.scope_ is None:
            return
        action = content.get("action") if isinstance(content, dict) else None
        if action == "sync":
            try:
                await self._send_snapshot()
            except PermissionDenied:
                await self.close(code=CLOSE_NOT_A_SUPERVISOR)
        elif action == "watch":
            self.watched = await database_sync_to_async(_visible_conversation)(
                self.scope_, content.get("conversation_id", "")
            )
            await self.send_json(
                {"type": "reply", "action": "watch", "ok": self.watched is not None}
            )
        else:
            await self.send_json(
                {"type": "reply", "ok": False, "error": "unknown action; one of sync, watch"}
            )

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        try:
            await super().receive(text_data=text_data, bytes_data=bytes_data, **kwargs)
        except ValueError:
            await self.send_json({"type": "reply", "ok": False, "error": "malformed JSON"})

    def _visible(self, event: str, payload: dict) -> bool:
        if event.startswith(("message.", "conversation.")):
            return self.watched is not None and payload.get("conversation_id") == self.watched
        scope = self.scope_
        if scope is None:
            return False
        if scope.everything:
            return True
        return payload.get("agent_id") in self.agent_ids or scope.sees_queue(
            payload.get("queue_id")
        )

    async def push_event(self, message):
        """Group handler: only filter and forward."""
        event = message.get("event") or ""
        payload = message.get("payload") or {}
        if not self._visible(event, payload):
            return
        keep = ("agent_id", "queue_id", "conversation_id", "task_id", "kind", "state", "at")
        await self.send_json(
            {
                "type": "event",
                "event": event,
                "payload": {k: payload[k] for k in keep if k in payload},
            }
        )

    async def push_events(self, message):
        """Group handler for a batch (sweeps push many events at once): each event is filtered and
        forwarded as its own frame, as if it had come alone."""
        for event in message.get("events") or []:
            await self.push_event(event)
