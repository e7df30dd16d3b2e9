"""The actions an agent's desktop may ask for over its socket; each calls one service.

Every handler takes the agent and the action's parameters, and returns data for the reply or
raises ValidationError / Http404 with a message the desktop shows as is.
"""

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from channels_app.models import AuthorKind, Direction
from channels_app.services import conversation_close, message_mark_seen, message_send
from channels_app.services.typing import conversation_typing
from routing.desktop.selectors import conversation_for_agent, desktop_snapshot, transfer_targets
from routing.models import Queue
from routing.services import agent_state_set, offer_accept, offer_decline
from routing.services.desktop import (
    agent_preference_set,
    conversation_note_add,
    conversation_transfer_by_agent_to_agent,
    conversation_transfer_by_agent_to_queue,
)
from tenants.models import Agent, IdleCode, WrapUpCode

MAX_TEXT = 4096


def _int(params: dict, name: str) -> int:
    value = params.get(name)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise ValidationError({name: f"'{name}' must be an id"})
    return int(value)


def accept_offer(*, agent: Agent, params: dict) -> dict[str, Any]:
    offer = offer_accept(offer_id=_int(params, "offer_id"), agent=agent)
    return {"offer_id": offer.pk, "conversation_id": offer.task.conversation_id}


def decline_offer(*, agent: Agent, params: dict) -> dict[str, Any]:
    offer = offer_decline(offer_id=_int(params, "offer_id"), agent=agent)
    return {"offer_id": offer.pk}


def send_message(*, agent: Agent, params: dict) -> dict[str, Any]:
    conversation = conversation_for_agent(
        agent=agent, conversation_id=params.get("conversation_id", "")
    )
    text = params.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValidationError({"text": "a message needs some text"})
    if len(text) > MAX_TEXT:
        raise ValidationError({"text": f"a message is at most {MAX_TEXT} characters"})
    message = message_send(
        conversation=conversation,
        text=text.strip(),
        author_kind=AuthorKind.AGENT,
        author_agent=agent,
    )
    return {"message_id": message.pk, "status": message.status}


# What the composer's rich-message builder sends on Apple Messages: item counts per kind.
RICH_ITEM_LIMITS = {
    "list_picker": (1, 20),
    "quick_reply": (2, 5),
    "time_picker": (1, 20),
    "form": (1, 10),
}
RICH_KINDS = (*RICH_ITEM_LIMITS, "rich_link")
RICH_TITLE_MAX = 85
TIME_SLOT_SECONDS = 1800


def _rich_items(kind: str, items: Any) -> list[dict]:
    low, high = RICH_ITEM_LIMITS[kind]
    label = kind.replace("_", " ")
    if not isinstance(items, list) or not low <= len(items) <= high:
        raise ValidationError({"items": f"a {label} has {low} to {high} items"})
    cleaned = []
    for index, item in enumerate(items):
        value = item.get("title") if isinstance(item, dict) else None
        if not isinstance(value, str) or not value.strip() or len(value) > RICH_TITLE_MAX:
            raise ValidationError(
                {"items": f"item {index + 1} needs a title (at most {RICH_TITLE_MAX} characters)"}
            )
        if kind == "form":
            cleaned.append({"id": f"page-{index + 1}", "title": value.strip(), "type": "input"})
            continue
        if kind != "time_picker":
            cleaned.append({"id": f"item-{index + 1}", "title": value.strip()})
            continue
        start = parse_datetime(value.strip())
        if start is None:
            raise ValidationError({"items": f"slot {index + 1} is not a date and time"})
        if timezone.is_naive(start):
            start = timezone.make_aware(start)
        cleaned.append(
            {
                "id": f"slot-{index + 1}",
                "start": start.strftime("%Y-%m-%dT%H:%M%z"),
                "duration": TIME_SLOT_SECONDS,
            }
        )
    return cleaned


def send_rich_message(*, agent: Agent, params: dict) -> dict[str, Any]:
    """A rich message from the composer's builder (Apple Messages): a list picker, quick reply,
    time picker or form (a title and its items, slots or questions), or a rich link (a title and
    its URL)."""
    conversation = conversation_for_agent(
        agent=agent, conversation_id=params.get("conversation_id", "")
    )
    if conversation.kind != "apple":
        raise ValidationError({"type": "rich messages are sent on Apple Messages conversations"})
    kind = params.get("type")
    if kind not in RICH_KINDS:
        raise ValidationError({"type": f"one of {', '.join(RICH_KINDS)}"})
    label = kind.replace("_", " ")
    title = params.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > RICH_TITLE_MAX:
        raise ValidationError(
            {"title": f"a {label} needs a title of at most {RICH_TITLE_MAX} characters"}
        )
    content: dict[str, Any] = {"type": kind, "title": title.strip()}
    if kind == "rich_link":
        url = params.get("url")
        try:
            URLValidator(schemes=["https", "http"])(url)
        except ValidationError:
            raise ValidationError({"url": "a rich link needs an http(s) URL"}) from None
        content["url"] = url
    else:
        items = _rich_items(kind, params.get("items"))
        key = {"time_picker": "slots", "form": "pages"}.get(kind, "items")
        content[key] = items
    message = message_send(
        conversation=conversation,
        text=title.strip(),
        content=content,
        author_kind=AuthorKind.AGENT,
        author_agent=agent,
    )
    return {"message_id": message.pk, "status": message.status}


def send_list_picker(*, agent: Agent, params: dict) -> dict[str, Any]:
    return send_rich_message(agent=agent, params={**params, "type": "list_picker"})


def send_template(*, agent: Agent, params: dict) -> dict[str, Any]:
    from channels_app.services.whatsapp_templates import whatsapp_template_send

    conversation = conversation_for_agent(
        agent=agent, conversation_id=params.get("conversation_id", "")
    )
    name, language = params.get("name"), params.get("language")
    if not isinstance(name, str) or not name or not isinstance(language, str) or not language:
        raise ValidationError({"name": "choose one of the approved templates"})
    parameters = params.get("parameters", [])
    message = whatsapp_template_send(
        conversation=conversation,
        name=name,
        language=language,
        parameters=parameters,
        author_kind=AuthorKind.AGENT,
        author_agent=agent,
    )
    return {"message_id": message.pk, "status": message.status}


def set_state(*, agent: Agent, params: dict) -> dict[str, Any]:
    idle_code = None
    if params.get("idle_code_id") not in (None, ""):
        idle_code = IdleCode.objects.filter(
            pk=_int(params, "idle_code_id"), tenant_id=agent.tenant_id
        ).first()
        if idle_code is None:
            raise ValidationError({"idle_code_id": "No such idle code."})
    row = agent_state_set(agent=agent, state=str(params.get("state", "")), idle_code=idle_code)
    return {"state": row.state, "idle_code_id": row.idle_code_id}


def set_variable(*, agent: Agent, params: dict) -> dict[str, Any]:
    from routing.flows.services import conversation_variable_set

    conversation = conversation_for_agent(
        agent=agent, conversation_id=params.get("conversation_id", "")
    )
    name = params.get("name")
    if not isinstance(name, str) or not name:
        raise ValidationError({"name": "which variable?"})
    value = conversation_variable_set(
        conversation=conversation, name=name, value=params.get("value"), agent=agent
    )
    return {"name": name, "value": value}


def close_conversation(*, agent: Agent, params: dict) -> dict[str, Any]:
    conversation = conversation_for_agent(
        agent=agent, conversation_id=params.get("conversation_id", "")
    )
    code = WrapUpCode.objects.filter(
        tenant_id=agent.tenant_id, pk=_int(params, "wrap_up_code_id")
    ).first()
    if code is None:
        raise ValidationError({"wrap_up_code_id": "Choose one of the tenant's wrap-up codes."})
    conversation_close(conversation=conversation, reason="agent", wrap_up_code=code.name)
    return {"conversation_id": conversation.pk, "wrap_up_code": code.name}


def mark_seen(*, agent: Agent, params: dict) -> dict[str, Any]:
    conversation = conversation_for_agent(
        agent=agent, conversation_id=params.get("conversation_id", "")
    )
    ids = list(
        conversation.messages.filter(direction=Direction.INBOUND, seen_at__isnull=True).values_list(
            "pk", flat=True
        )
    )
    return {"seen": message_mark_seen(message_ids=ids, agent=agent) if ids else 0}


def typing(*, agent: Agent, params: dict) -> dict[str, Any]:
    conversation = conversation_for_agent(
        agent=agent, conversation_id=params.get("conversation_id", "")
    )
    return {"sent": conversation_typing(conversation=conversation, agent=agent)}


def add_note(*, agent: Agent, params: dict) -> dict[str, Any]:
    conversation = conversation_for_agent(
        agent=agent, conversation_id=params.get("conversation_id", "")
    )
    note = conversation_note_add(conversation=conversation, agent=agent, text=params.get("text"))
    return {"note_id": note.pk}


def list_transfer_targets(*, agent: Agent, params: dict) -> dict[str, Any]:
    conversation = conversation_for_agent(
        agent=agent, conversation_id=params.get("conversation_id", "")
    )
    return transfer_targets(agent=agent, conversation=conversation)


def transfer(*, agent: Agent, params: dict) -> dict[str, Any]:
    """To a colleague (to_agent_id) or a queue (to_queue_id) of the agent's tenant."""
    conversation = conversation_for_agent(
        agent=agent, conversation_id=params.get("conversation_id", "")
    )
    has_agent = params.get("to_agent_id") not in (None, "")
    has_queue = params.get("to_queue_id") not in (None, "")
    if has_agent == has_queue:
        raise ValidationError("Choose either an agent (to_agent_id) or a queue (to_queue_id).")
    if has_agent:
        to_agent = Agent.objects.filter(
            pk=_int(params, "to_agent_id"), tenant_id=agent.tenant_id
        ).first()
        if to_agent is None:
            raise ValidationError({"to_agent_id": "No such agent in this tenant."})
        offer = conversation_transfer_by_agent_to_agent(
            conversation=conversation, agent=agent, to_agent=to_agent
        )
        return {
            "conversation_id": conversation.pk,
            "to_agent_id": to_agent.pk,
            "offer_id": offer.pk,
        }
    queue = Queue.objects.filter(pk=_int(params, "to_queue_id"), tenant_id=agent.tenant_id).first()
    if queue is None:
        raise ValidationError({"to_queue_id": "No such queue in this tenant."})
    task = conversation_transfer_by_agent_to_queue(
        conversation=conversation, agent=agent, queue=queue
    )
    return {"conversation_id": conversation.pk, "to_queue_id": queue.pk, "task_id": task.pk}


def set_preferences(*, agent: Agent, params: dict) -> dict[str, Any]:
    preference = agent_preference_set(
        agent=agent,
        sound_muted=params.get("sound_muted"),
        auto_accept_queue_ids=params.get("auto_accept_queue_ids"),
    )
    return {
        "sound_muted": preference.sound_muted,
        "auto_accept_queue_ids": sorted(preference.auto_accept_queues.values_list("pk", flat=True)),
    }


def sync(*, agent: Agent, params: dict) -> dict[str, Any]:
    return desktop_snapshot(agent=agent)


ACTIONS: dict[str, Callable[..., dict[str, Any]]] = {
    "accept_offer": accept_offer,
    "decline_offer": decline_offer,
    "send_message": send_message,
    "send_template": send_template,
    "send_list_picker": send_list_picker,
    "send_rich_message": send_rich_message,
    "set_state": set_state,
    "set_variable": set_variable,
    "close_conversation": close_conversation,
    "mark_seen": mark_seen,
    "sync": sync,
    "typing": typing,
    "add_note": add_note,
    "transfer_targets": list_transfer_targets,
    "transfer": transfer,
    "set_preferences": set_preferences,
}
