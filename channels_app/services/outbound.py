import logging
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from channels_app import events
from channels_app.models import (
    AuthorKind,
    ChannelKind,
    Conversation,
    DeliveryStatus,
    Direction,
    Message,
)
from channels_app.providers import provider_for
from channels_app.providers.base import PermanentSendError, SendError, TransientSendError
from tenants.models import Agent
from tenants.realtime import agent_group, send_event_on_commit, tenant_group

logger = logging.getLogger(__name__)

WHATSAPP_WINDOW = timedelta(hours=24)
SEND_LEASE = timedelta(seconds=60)
READ_RECEIPT_KINDS = (ChannelKind.WHATSAPP, ChannelKind.MESSENGER)


class SendRefused(ValidationError):
    """A message we will not hand to the provider; the message says why."""


def whatsapp_window_open(*, conversation: Conversation, now: datetime | None = None) -> bool:
    """WhatsApp allows free text until 24 hours after the customer's last message on this number."""
    now = now or timezone.now()
    if conversation.last_inbound_at is not None and now - conversation.last_inbound_at < WHATSAPP_WINDOW:
        return True  # this conversation's own last message keeps it open: no need to ask the others
    last = Conversation.objects.filter(
        asset_id=conversation.asset_id, identity_id=conversation.identity_id
    ).aggregate(last=Max("last_inbound_at"))["last"]
    return last is not None and now - last < WHATSAPP_WINDOW


def message_send(
    *,
    conversation: Conversation,
    text: str = "",
    content: dict | None = None,
    author_kind: str,
    author_agent: Agent | None = None,
    template: dict | None = None,
    reply_to: Message | None = None,
) -> Message:
    """Records an outbound message (pending) and sends it through the asset's provider after commit.

    template: an approved WhatsApp template, {"name": ..., "language": "en_US", "components": [...]}.
    """
    from channels_app.tasks import deliver_message_soon

    if author_kind not in (AuthorKind.AGENT, AuthorKind.BOT, AuthorKind.SYSTEM):
        raise SendRefused("an outbound message is written by an agent, a bot or the system")
    if author_agent is not None and author_agent.tenant_id != conversation.tenant_id:
        raise SendRefused("the agent does not belong to this conversation's tenant")
    if conversation.status != Conversation.Status.OPEN:
        raise SendRefused("the conversation is closed")
    if provider_for(conversation.kind) is None:
        raise SendRefused(f"sending on {conversation.get_kind_display()} is not available")
    content = dict(content or {})
    content_type = "text"
    if template is not None:
        if conversation.kind != ChannelKind.WHATSAPP:
            raise SendRefused("template messages are a WhatsApp feature")
        if not isinstance(template, dict) or not str(template.get("name", "")).strip():
            raise SendRefused("a template needs its approved name")
        content_type = "template"
        content["template"] = {"language": "en_US", **template}
        text = text or f"[template {template['name']}]"
    elif not text.strip():
        raise SendRefused("a message needs text")
    elif conversation.kind == ChannelKind.WHATSAPP and not whatsapp_window_open(
        conversation=conversation
    ):
        raise SendRefused(
            "WhatsApp allows free text only within 24 hours of the customer's last message; "
            "send an approved template message instead"
        )
    if reply_to is not None and reply_to.conversation_id != conversation.pk:
        raise SendRefused("a reply must quote a message of the same conversation")
    now = timezone.now()
    # No savepoint of its own: nothing here is caught and retried, an error undoes the caller's block.
    with transaction.atomic(savepoint=False):
        message = Message.objects.create(
            tenant_id=conversation.tenant_id,
            conversation=conversation,
            asset_id=conversation.asset_id,
            direction=Direction.OUTBOUND,
            author_kind=author_kind,
            author_agent=author_agent,
            content_type=content_type,
            text=text,
            content=content,
            reply_to=reply_to,
            reply_to_provider_id=reply_to.provider_message_id if reply_to else "",
            status=DeliveryStatus.PENDING,
            created_at=now,
        )
        Conversation.objects.filter(pk=conversation.pk, last_message_at__lt=now).update(
            last_message_at=now
        )
        transaction.on_commit(lambda: deliver_message_soon(message.pk))
        # The owner's desktop, and supervisors watching the conversation in the care console.
        groups = [tenant_group(conversation.tenant_id)]
        if conversation.owner_id:
            groups.insert(0, agent_group(conversation.owner_id))
        send_event_on_commit(
            groups=groups,
            event="message.new",
            payload={"conversation_id": conversation.pk, "message_id": message.pk},
        )
    return message


def _fail(message: Message, reason: str) -> None:
    with transaction.atomic():
        updated = Message.objects.filter(pk=message.pk, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.FAILED,
            failed_at=timezone.now(),
            failure_reason=reason,
            send_claimed_until=None,
        )
        if updated:
            events.announce(
                events.MESSAGE_STATUS_CHANGED,
                message_id=message.pk,
                conversation_id=message.conversation_id,
                status=DeliveryStatus.FAILED,
            )
            _push_status(message, DeliveryStatus.FAILED)
    logger.warning("message %s failed: %s", message.pk, reason)


def _push_status(message: Message, status: str) -> None:
    if message.conversation.owner_id:
        send_event_on_commit(
            groups=[agent_group(message.conversation.owner_id)],
            event="message.status",
            payload={
                "conversation_id": message.conversation_id,
                "message_id": message.pk,
                "status": status,
            },
        )


def message_deliver(*, message_id: int, final_attempt: bool = False) -> str:
    """Sends one pending message once: "sent", "failed", "retry" (transient) or "skipped" (not ours)."""
    now = timezone.now()
    # The claim: only one worker holds a pending message at a time, and only for the lease.
    claimed = Message.objects.filter(
        Q(send_claimed_until__isnull=True) | Q(send_claimed_until__lt=now),
        pk=message_id,
        status=DeliveryStatus.PENDING,
        direction=Direction.OUTBOUND,
    ).update(send_claimed_until=now + SEND_LEASE, send_attempts=F("send_attempts") + 1)
    if not claimed:
        return "skipped"
    message = Message.objects.select_related("asset", "conversation", "conversation__identity").get(
        pk=message_id
    )
    transport = provider_for(message.asset.kind).transport(message.asset)
    try:
        result = transport.send(
            message=message,
            to=message.conversation.identity.address,
            idempotency_key=str(message.idempotency_key),
        )
    except TransientSendError as exc:
        if final_attempt:
            _fail(message, f"gave up after {message.send_attempts} attempts: {exc.reason}")
            return "failed"
        Message.objects.filter(pk=message.pk, status=DeliveryStatus.PENDING).update(
            send_claimed_until=None, failure_reason=exc.reason
        )
        logger.info("message %s: transient send failure, will retry: %s", message.pk, exc.reason)
        return "retry"
    except PermanentSendError as exc:
        _fail(message, exc.reason)
        return "failed"
    with transaction.atomic():
        Message.objects.filter(pk=message.pk, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.SENT,
            provider_message_id=result.provider_message_id,
            sent_at=F("sent_at") if message.sent_at else timezone.now(),
            send_claimed_until=None,
            failure_reason="",
        )
        events.announce(
            events.MESSAGE_SENT, message_id=message.pk, conversation_id=message.conversation_id
        )
        _push_status(message, DeliveryStatus.SENT)
    return "sent"


def message_mark_seen(*, message_ids: list[int], agent: Agent) -> int:
    """The agent has seen these inbound messages of their conversations; the customer gets a read receipt."""
    from channels_app.tasks import send_read_receipt

    now = timezone.now()
    with transaction.atomic():
        messages = Message.objects.filter(
            pk__in=message_ids,
            tenant_id=agent.tenant_id,
            conversation__owner=agent,
            direction=Direction.INBOUND,
            seen_at__isnull=True,
        )
        ids = list(messages.values_list("pk", flat=True))
        if not ids:
            return 0
        Message.objects.filter(pk__in=ids, seen_at__isnull=True).update(seen_at=now)
        # The newest seen message per conversation stands for all before it.
        newest: dict[int, Message] = {}
        for message in (
            Message.objects.filter(pk__in=ids)
            .exclude(provider_message_id="")
            .select_related("asset")
        ):
            if message.asset.kind in READ_RECEIPT_KINDS:
                current = newest.get(message.conversation_id)
                if current is None or (message.created_at, message.pk) > (
                    current.created_at,
                    current.pk,
                ):
                    newest[message.conversation_id] = message
        for message in newest.values():
            transaction.on_commit(lambda pk=message.pk: send_read_receipt.delay(pk))
    return len(ids)


def message_read_receipt_send(*, message_id: int) -> None:
    """Tells the provider the customer's message was read; a transient failure is raised for a retry."""
    message = Message.objects.select_related("asset", "conversation__identity").get(pk=message_id)
    try:
        provider_for(message.asset.kind).transport(message.asset).mark_read(message=message)
    except TransientSendError:
        raise
    except SendError as exc:
        logger.warning("read receipt for message %s refused: %s", message.pk, exc.reason)
