import logging
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from channels_app import events
from channels_app.models import (
    Attachment,
    AuthorKind,
    ChannelKind,
    Conversation,
    DeliveryStatus,
    Direction,
    Message,
)
from channels_app.providers import provider_for
from channels_app.providers.base import PermanentSendError, SendError, TransientSendError
from config.broker import enqueue
from tenants.models import Agent
from tenants.realtime import agent_group, send_event_on_commit, watcher_groups

logger = logging.getLogger(__name__)

WHATSAPP_WINDOW = timedelta(hours=24)
SEND_LEASE = timedelta(seconds=60)
READ_RECEIPT_KINDS = (ChannelKind.WHATSAPP, ChannelKind.MESSENGER, ChannelKind.CHAT)
# Channels whose provider takes the business's typing indicator, and how often we send one.


class SendRefused(ValidationError):
    """A message we will not hand to the provider; the message says why."""


def whatsapp_window_open(*, conversation: Conversation, now: datetime | None = None) -> bool:
    """WhatsApp allows free text until 24 hours after the customer's last message on this number."""
    now = now or timezone.now()
    if (
        conversation.last_inbound_at is not None
        and now - conversation.last_inbound_at < WHATSAPP_WINDOW
    ):
        return True  # this conversation's own last message keeps it open: no need to ask the others
    last = Conversation.objects.filter(
        asset_id=conversation.asset_id, identity_id=conversation.identity_id
    ).aggregate(last=Max("last_inbound_at"))["last"]
    return last is not None and now - last < WHATSAPP_WINDOW


def _refuse_unsendable(*, conversation: Conversation, author_kind: str, author_agent) -> None:
    if author_kind not in (AuthorKind.AGENT, AuthorKind.BOT, AuthorKind.SYSTEM):
        raise SendRefused("an outbound message is written by an agent, a bot or the system")
    if author_agent is not None and author_agent.tenant_id != conversation.tenant_id:
        raise SendRefused("the agent does not belong to this conversation's tenant")
    if conversation.status != Conversation.Status.OPEN:
        raise SendRefused("the conversation is closed")
    if provider_for(conversation.kind) is None:
        raise SendRefused(f"sending on {conversation.get_kind_display()} is not available")


def _refuse_outside_window(conversation: Conversation, what: str) -> None:
    if conversation.kind == ChannelKind.WHATSAPP and not whatsapp_window_open(
        conversation=conversation
    ):
        raise SendRefused(
            f"WhatsApp allows {what} only within 24 hours of the customer's last message; "
            "send an approved template message instead"
        )


def _record_outbound(
    *,
    conversation: Conversation,
    author_kind: str,
    author_agent: Agent | None,
    content_type: str,
    text: str,
    content: dict,
    reply_to: Message | None = None,
) -> Message:
    """The pending outbound row, its delivery after commit and the pushes; inside the caller's
    transaction."""
    from channels_app.tasks import deliver_message_soon

    now = timezone.now()
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
    groups = watcher_groups(tenant_id=conversation.tenant_id, agent_id=conversation.owner_id)
    send_event_on_commit(
        groups=groups,
        event="message.new",
        payload={"conversation_id": conversation.pk, "message_id": message.pk},
    )
    return message


def _rich_summary(content: dict) -> str:
    if not content.get("type"):
        return ""
    return str(content.get("title") or content.get("url") or "").strip()


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
    _refuse_unsendable(
        conversation=conversation, author_kind=author_kind, author_agent=author_agent
    )
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
    elif not text.strip() and not _rich_summary(content):
        raise SendRefused("a message needs text")
    else:
        # Rich content (a list picker, ...) is shown in the transcript by its title.
        text = text if text.strip() else _rich_summary(content)
        _refuse_outside_window(conversation, "free text")
    if reply_to is not None and reply_to.conversation_id != conversation.pk:
        raise SendRefused("a reply must quote a message of the same conversation")
    # No savepoint of its own: nothing here is caught and retried, an error undoes the caller's block.
    with transaction.atomic(savepoint=False):
        return _record_outbound(
            conversation=conversation,
            author_kind=author_kind,
            author_agent=author_agent,
            content_type=content_type,
            text=text,
            content=content,
            reply_to=reply_to,
        )


def message_send_file(
    *,
    conversation: Conversation,
    data: bytes,
    filename: str,
    caption: str = "",
    author_kind: str,
    author_agent: Agent | None = None,
) -> Message:
    """Records an outbound file (pending, not yet scanned) and sends it after commit.

    The type comes from the bytes and must be one the channel's template allows, at a size it
    allows; the file is malware-scanned before the provider sees it (in message_deliver).
    """
    from channels_app.media import attachment_file_store, attachment_refusal, detect_content_type
    from channels_app.outbound_media import media_kind
    from channels_app.scanning import scanner_configured
    from channels_app.selectors import channel_template_for

    _refuse_unsendable(
        conversation=conversation, author_kind=author_kind, author_agent=author_agent
    )
    if not data:
        raise SendRefused("the file is empty")
    _refuse_outside_window(conversation, "files")
    content_type = detect_content_type(data)
    refusal = attachment_refusal(
        template=channel_template_for(tenant=conversation.tenant, kind=conversation.kind),
        content_type=content_type,
        size=len(data),
    )
    if refusal:
        raise SendRefused(refusal)
    if not scanner_configured():
        raise SendRefused("files cannot be sent: no malware scanner is configured")
    filename = (filename or "").replace("/", "_").replace("\\", "_").strip()[:200] or "file"
    caption = caption.strip()
    with transaction.atomic():
        if caption and conversation.kind == ChannelKind.MESSENGER:
            # Messenger takes no caption with an attachment: the text goes first, on its own.
            message_send(
                conversation=conversation,
                text=caption,
                author_kind=author_kind,
                author_agent=author_agent,
            )
            caption = ""
        message = _record_outbound(
            conversation=conversation,
            author_kind=author_kind,
            author_agent=author_agent,
            content_type=media_kind(content_type),
            text=caption,
            content={"attachment": True, "caption": caption, "filename": filename},
        )
        attachment = Attachment(
            tenant_id=conversation.tenant_id,
            message=message,
            filename=filename,
            declared_content_type=content_type,
            scan_status=Attachment.ScanStatus.PENDING,
            # Scanned by its delivery; the pending-scan sweep steps in only if that stalls.
            scan_queued_at=timezone.now(),
        )
        attachment_file_store(attachment=attachment, data=data)
        attachment.save()
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
        if message.content.get("attachment"):
            ready, reason = _attachment_ready(message=message, transport=transport)
            if ready == "failed":
                return "failed"
            if ready == "wait":
                if final_attempt:
                    _fail(message, f"gave up after {message.send_attempts} attempts: {reason}")
                    return "failed"
                Message.objects.filter(pk=message.pk, status=DeliveryStatus.PENDING).update(
                    send_claimed_until=None, failure_reason=reason
                )
                logger.info("message %s waits: %s", message.pk, reason)
                return "retry"
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


# A pending message nobody has tried this long after it was stored lost its task (the broker was
# away when it was queued, or the worker holding it died); a claim past its lease lost its worker.
STALE_SEND_AFTER = timedelta(seconds=30)


def messages_requeue_stale(*, now: datetime | None = None, batch: int = 500) -> int:
    """Queues delivery again for outbound messages still pending whose task was lost: never tried
    STALE_SEND_AFTER after they were stored, or claimed by a worker whose lease ran out. A message
    between retries (tried, claim released) is left to its retry. message_deliver's claim makes a
    second task for the same message harmless. Returns how many were queued."""
    from channels_app.tasks import deliver_message

    now = now or timezone.now()
    ids = list(
        Message.objects.filter(
            Q(send_attempts=0, created_at__lt=now - STALE_SEND_AFTER)
            | Q(send_claimed_until__lt=now),
            direction=Direction.OUTBOUND,
            status=DeliveryStatus.PENDING,
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:batch]
    )
    for message_id in ids:
        deliver_message.delay(message_id)
    if ids:
        logger.warning("queued %s outbound messages again whose delivery was lost", len(ids))
    return len(ids)


def _attachment_ready(*, message: Message, transport) -> tuple[str, str]:
    """Scans the outbound file (once) and uploads it to the provider (once): ("ready", ""),
    ("wait", why) while the scanner is down, or ("failed", "") when the message failed here
    (an infected file, or one not scanned clean): such a file is never sent."""
    attachment = message.attachments.get()
    if attachment.scan_status != Attachment.ScanStatus.CLEAN:
        from channels_app.scanning import scan_bytes

        if attachment.scan_status != Attachment.ScanStatus.PENDING or not attachment.file:
            _fail(message, "the file was not scanned clean and was not sent")
            return "failed", ""
        with attachment.file.open("rb") as handle:
            data = handle.read()
        verdict = scan_bytes(data)
        if verdict.status == "unavailable":
            return "wait", "the malware scanner is unavailable; the file is not sent unscanned"
        if verdict.status == "infected":
            _refuse_infected(
                message=message, attachment=attachment, signature=verdict.signature, data=data
            )
            return "failed", ""
        # Conditional: the pending-scan sweep may have scanned it meanwhile.
        Attachment.objects.filter(
            pk=attachment.pk, scan_status=Attachment.ScanStatus.PENDING
        ).update(scan_status=Attachment.ScanStatus.CLEAN, scanned_at=timezone.now())
        attachment.refresh_from_db(fields=["scan_status"])
        if attachment.scan_status != Attachment.ScanStatus.CLEAN:
            _fail(message, "the file was not scanned clean and was not sent")
            return "failed", ""
    upload = getattr(transport, "upload", None)
    if upload is not None and not attachment.provider_media_id:
        attachment.provider_media_id = upload(attachment=attachment)
        attachment.save(update_fields=["provider_media_id"])
    return "ready", ""


def _refuse_infected(
    *, message: Message, attachment: Attachment, signature: str, data: bytes
) -> None:
    """The file is quarantined and audited as any infected file (deleted, MalwareDetection), and
    the message fails with the reason the agent reads."""
    from channels_app.services.attachments import attachment_quarantine

    attachment_quarantine(attachment=attachment, signature=signature, data=data)
    _fail(message, f"the file is infected ({signature or 'malware'}) and was not sent")


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
            transaction.on_commit(lambda pk=message.pk: enqueue(send_read_receipt, pk))
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
