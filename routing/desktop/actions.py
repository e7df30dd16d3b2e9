"""The actions an agent's desktop may ask for over its socket; each calls one service.

Every handler takes the agent and the action's parameters, and returns data for the reply or
raises ValidationError / Http404 with a message the desktop shows as is.
"""

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError

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


LIST_PICKER_MAX_ITEMS = 20


def send_list_picker(*, agent: Agent, params: dict) -> dict[str, Any]:
    """A list picker from the composer's builder (Apple Messages): a title and its items."""
    conversation = conversation_for_agent(
        agent=agent, conversation_id=params.get("conversation_id", "")
    )
    if conversation.kind != "apple":
        raise ValidationError({"type": "list pickers are sent on Apple Messages conversations"})
    title = params.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > 85:
        raise ValidationError({"title": "a list picker needs a title of at most 85 characters"})
    items = params.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= LIST_PICKER_MAX_ITEMS:
        raise ValidationError({"items": f"a list picker has 1 to {LIST_PICKER_MAX_ITEMS} items"})
    cleaned = []
    for index, item in enumerate(items):
        item_title = item.get("title") if isinstance(item, dict) else None
        if not isinstance(item_title, str) or not item_title.strip() or len(item_title) > 85:
            raise ValidationError(
                {"items": f"item {index + 1} needs a title (at most 85 characters)"}
            )
        cleaned.append({"id": f"item-{index + 1}", "title": item_title.strip()})
    message = message_send(
        conversation=conversation,
        text=title.strip(),
        content={"type": "list_picker", "title": title.strip(), "items": cleaned},
        author_kind=AuthorKind.AGENT,
        author_agent=agent,
    )
    return {"message_id": message.pk, "status": message.status}


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
