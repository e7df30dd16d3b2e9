"""What nodes do to the world, in two flavours: LiveEffects for real runs, DryEffects for the
admin's dry run (no message sent, no task queued, nothing closed, nothing stored)."""

import json
from datetime import datetime

from django.utils import timezone

from config.outbound import OutboundError, fetch

MAX_RESPONSE_BYTES = 256 * 1024


def _http_call(*, method: str, url: str, headers: dict, body, timeout: float) -> dict:
    """A flow's request, through the outbound guard: tenants' flows reach public addresses only,
    unless the operator allows a host (OUTBOUND_ALLOWED_HOSTS)."""
    from routing.flows.engine import NodeError

    try:
        response = fetch(
            method,
            url,
            headers=headers,
            json=body if body is not None and method != "GET" else None,
            timeout=timeout,
            max_bytes=MAX_RESPONSE_BYTES,
        )
    except OutboundError as exc:
        raise NodeError(f"{method} {url}: {exc.reason}") from None
    raw = response.content
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode("utf-8", "replace")
    return {"status": response.status_code, "body": parsed, "headers": dict(response.headers)}


class Effects:
    dry = False

    def __init__(self, *, tenant):
        self.tenant = tenant

    def now(self) -> datetime:
        return timezone.now()

    def calendar(self, *, name: str) -> dict | None:
        from routing.flows.models import BusinessCalendar

        calendar = BusinessCalendar.objects.filter(tenant=self.tenant, name=name).first()
        if calendar is None:
            return None
        return {
            "hours": calendar.hours,
            "holidays": calendar.holidays,
            "timezone": calendar.timezone,
        }

    def _queue(self, name: str):
        from routing.flows.engine import NodeError
        from routing.models import Queue

        queue = Queue.objects.filter(tenant=self.tenant, name=name).first()
        if queue is None:
            raise NodeError(f"queue {name!r} does not exist in this tenant")
        queue.tenant = self.tenant  # the same row: spares the services a second read of it
        return queue

    def send_message(self, *, text: str, content, template: dict | None = None) -> dict:
        raise NotImplementedError

    def enqueue(self, *, queue_name, priority, requirements, relaxation_steps, variables) -> dict:
        raise NotImplementedError

    def close(self, *, reason: str, wrap_up_code: str) -> dict:
        raise NotImplementedError

    def http(self, *, method: str, url: str, headers: dict, body, timeout: float) -> dict:
        raise NotImplementedError


class LiveEffects(Effects):
    def __init__(self, *, tenant, conversation):
        super().__init__(tenant=tenant)
        self.conversation = conversation

    def send_message(self, *, text: str, content, template: dict | None = None) -> dict:
        from channels_app.models import ChannelKind
        from channels_app.services import message_send, whatsapp_window_open
        from channels_app.services.whatsapp_templates import whatsapp_template_send

        whatsapp = self.conversation.kind == ChannelKind.WHATSAPP
        if (
            template is not None
            and whatsapp
            and (not (text or content) or not whatsapp_window_open(conversation=self.conversation))
        ):
            message = whatsapp_template_send(
                conversation=self.conversation,
                name=template["name"],
                language=template["language"],
                parameters=template["parameters"],
                author_kind="bot",
            )
            return {"message_id": message.pk, "template": template["name"]}
        if not (text or content):
            from routing.flows.engine import NodeError

            raise NodeError(
                f"template messages are a WhatsApp feature; on "
                f"{self.conversation.get_kind_display()} this node needs a text"
            )
        message = message_send(
            conversation=self.conversation, text=text, content=content or None, author_kind="bot"
        )
        return {"message_id": message.pk}

    def enqueue(self, *, queue_name, priority, requirements, relaxation_steps, variables) -> dict:
        from routing.services import task_enqueue

        queue = self._queue(queue_name)
        task = task_enqueue(
            conversation=self.conversation,
            queue=queue,
            priority=priority,
            requirements=requirements or None,
            relaxation_steps=relaxation_steps or None,
            variables=variables,
        )
        return {"task_id": task.pk, "queue": queue.name}

    def enqueue_default(self, *, variables: dict) -> dict:
        from routing.selectors import queue_default
        from routing.services import task_enqueue

        queue = queue_default(tenant=self.tenant)
        if queue is None:
            raise RuntimeError("the tenant has no default queue")
        task = task_enqueue(conversation=self.conversation, queue=queue, variables=variables)
        return {"task_id": task.pk, "queue": queue.name}

    def close(self, *, reason: str, wrap_up_code: str) -> dict:
        from channels_app.services import conversation_close
        from routing.flows.engine import NodeError

        if not conversation_close(
            conversation=self.conversation, reason=reason, wrap_up_code=wrap_up_code
        ):
            raise NodeError("the conversation was already closed")
        return {"closed": True}

    def http(self, *, method: str, url: str, headers: dict, body, timeout: float) -> dict:
        return _http_call(method=method, url=url, headers=headers, body=body, timeout=timeout)


class DryEffects(Effects):
    """Records what a real run would do. HTTP requests answer a simulated 200 with an empty body;
    with allow_http, GET requests are made for real (they only read), other methods still not."""

    dry = True

    def __init__(self, *, tenant, now: datetime | None = None, allow_http: bool = False):
        super().__init__(tenant=tenant)
        self.actions: list[dict] = []
        self._now = now
        self._allow_http = allow_http

    def now(self) -> datetime:
        return self._now or timezone.now()

    def send_message(self, *, text: str, content, template: dict | None = None) -> dict:
        action = {"action": "send_message", "text": text, "content": content}
        if template is not None:
            action["template"] = template
        self.actions.append(action)
        return {"dry_run": True}

    def enqueue(self, *, queue_name, priority, requirements, relaxation_steps, variables) -> dict:
        try:
            self._queue(queue_name)
        except ImportError:
            pass
        self.actions.append(
            {
                "action": "queue_task",
                "queue": queue_name,
                "priority": priority,
                "requirements": requirements,
                "relaxation_steps": relaxation_steps,
            }
        )
        return {"dry_run": True, "queue": queue_name}

    def enqueue_default(self, *, variables: dict) -> dict:
        self.actions.append({"action": "queue_task", "queue": "(default queue)"})
        return {"dry_run": True}

    def close(self, *, reason: str, wrap_up_code: str) -> dict:
        self.actions.append(
            {"action": "close_conversation", "reason": reason, "wrap_up_code": wrap_up_code}
        )
        return {"dry_run": True}

    def http(self, *, method: str, url: str, headers: dict, body, timeout: float) -> dict:
        if method == "GET" and self._allow_http:
            response = _http_call(
                method=method, url=url, headers=headers, body=body, timeout=timeout
            )
        else:
            response = {"status": 200, "body": None, "headers": {}, "simulated": True}
        self.actions.append(
            {
                "action": "http_request",
                "method": method,
                "url": url,
                "status": response["status"],
                "simulated": response.get("simulated", False),
            }
        )
        return response
