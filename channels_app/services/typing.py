"""The agent is typing: the customer sees it where the channel can show it.

Live chat shows it in the widget; Messenger gets the sender action typing_on; WhatsApp gets its
typing indicator with the read receipt of the customer's last message; Apple gets typing_start. Each conversation gets at
most one indicator per TYPING_INTERVAL_SECONDS, counted in Redis so every server process shares
the count (the embedded setup counts in its one process's cache)."""

import logging
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from channels_app.models import ChannelKind, Conversation, Direction, Message

logger = logging.getLogger(__name__)

TYPING_INTERVAL_SECONDS = 5
TYPING_KINDS = {ChannelKind.CHAT, ChannelKind.MESSENGER, ChannelKind.WHATSAPP, ChannelKind.APPLE}
KEY_PREFIX = "typing-indicator"


@lru_cache(maxsize=4)
def _redis(url: str):
    import redis

    return redis.Redis.from_url(url)


def typing_key(conversation_id: int) -> str:
    return f"{KEY_PREFIX}:{conversation_id}"


def typing_slot_take(*, conversation_id: int, seconds: int = TYPING_INTERVAL_SECONDS) -> bool:
    """True for the first caller in the interval, across processes."""
    key = typing_key(conversation_id)
    if settings.REDIS_URL:
        return bool(_redis(settings.REDIS_URL).set(key, 1, nx=True, ex=seconds))
    return cache.add(key, 1, timeout=seconds)


def conversation_typing(*, conversation: Conversation, agent) -> bool:
    """Shows the customer that the agent types, if the channel can and the interval allows.
    Returns whether an indicator goes out."""
    if conversation.kind not in TYPING_KINDS or conversation.status != Conversation.Status.OPEN:
        return False
    if not typing_slot_take(conversation_id=conversation.pk):
        return False
    if conversation.kind == ChannelKind.CHAT:
        from channels_app.livechat.services import agent_typing

        return agent_typing(conversation_id=conversation.pk, agent=agent)
    from channels_app.tasks import send_typing_indicator

    transaction.on_commit(lambda: send_typing_indicator.delay(conversation.pk))
    return True


def typing_indicator_send(*, conversation_id: int) -> None:
    """The provider call; a refusal is logged (a typing indicator is not worth a retry)."""
    from channels_app.providers import provider_for
    from channels_app.providers.base import SendError

    conversation = Conversation.objects.select_related("asset", "identity").get(pk=conversation_id)
    reply_to = (
        Message.objects.filter(conversation=conversation, direction=Direction.INBOUND)
        .exclude(provider_message_id="")
        .order_by("-created_at", "-id")
        .first()
    )
    transport = provider_for(conversation.asset.kind).transport(conversation.asset)
    try:
        transport.typing(conversation=conversation, reply_to=reply_to)
    except SendError as exc:
        logger.info("typing indicator for conversation %s refused: %s", conversation.pk, exc)
