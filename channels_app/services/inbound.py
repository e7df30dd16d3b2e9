import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from channels_app import events
from channels_app.media import attachment_file_accept, files_removed_on_failure
from channels_app.models import (
    Attachment,
    AuthorKind,
    ChannelAsset,
    Conversation,
    DeliveryStatus,
    Direction,
    InboundEvent,
    Message,
)
from channels_app.providers import provider_for
from channels_app.providers.base import (
    SHAPE_ERRORS,
    ConversationEnded,
    CustomerTyping,
    Ignored,
    InboundMessage,
    MalformedEvent,
    Media,
    MediaRef,
    SendError,
    StatusUpdate,
    StoredPiece,
    malformed_from,
)
from channels_app.providers.util import body_hash
from channels_app.selectors import channel_template_for
from channels_app.services.attachments import attachments_scan_on_commit
from channels_app.services.conversations import (
    conversation_close,
    conversation_get_or_open,
    customer_identity_find_or_create,
)
from config.broker import enqueue
from tenants.realtime import agent_group, send_event_on_commit, watcher_groups

logger = logging.getLogger(__name__)

_INSERT = (
    "INSERT INTO {table} (tenant_id, asset_id, provider_event_id, body, content_type, status, error, attempts,"
    " received_at) VALUES (%s, %s, %s, %s, %s, %s, %s, 0, %s)"
    " ON CONFLICT (asset_id, provider_event_id) DO NOTHING RETURNING id"
)


def _insert_event(
    *,
    asset: ChannelAsset,
    provider_event_id: str,
    body: str,
    content_type: str,
    status: str,
    error: str = "",
) -> int | None:
    """Stores a raw event once: the unique constraint, not a prior read, drops redeliveries."""
    sql = _INSERT.format(table=connection.ops.quote_name(InboundEvent._meta.db_table))
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                asset.tenant_id,
                asset.pk,
                provider_event_id[:255],
                body,
                content_type,
                status,
                error,
                connection.ops.adapt_datetimefield_value(timezone.now()),
            ],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def inbound_events_accept(
    *, asset: ChannelAsset, pieces: list[StoredPiece], content_type: str
) -> list[int]:
    """Stores the pieces of a signed POST in one statement and queues the new ones after commit.

    One INSERT ... ON CONFLICT DO NOTHING: the unique constraint drops redeliveries, even concurrent
    ones, and RETURNING tells which pieces are new (only those are queued).
    """
    from channels_app.tasks import process_inbound_event

    unique: dict[str, StoredPiece] = {}
    for piece in pieces:
        unique.setdefault(piece.provider_event_id[:255], piece)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    rows, params = [], []
    for event_id, piece in unique.items():
        status = InboundEvent.Status.PENDING if piece.handled else InboundEvent.Status.IGNORED
        rows.append("(%s, %s, %s, %s, %s, %s, '', 0, %s)")
        params += [asset.tenant_id, asset.pk, event_id, piece.body, content_type, status, now]
    sql = (
        f"INSERT INTO {connection.ops.quote_name(InboundEvent._meta.db_table)} (tenant_id, asset_id,"
        " provider_event_id, body, content_type, status, error, attempts, received_at) VALUES "
        + ", ".join(rows)
        + " ON CONFLICT (asset_id, provider_event_id) DO NOTHING RETURNING id, provider_event_id, status"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        inserted = cursor.fetchall()
    new_ids = []
    for event_pk, event_id, status in inserted:
        if status == InboundEvent.Status.PENDING:
            new_ids.append(event_pk)
            transaction.on_commit(
                lambda event_pk=event_pk: enqueue(process_inbound_event, event_pk)
            )
        else:
            logger.info(
                "ignored %s event %s on asset %s: a kind we do not handle",
                asset.kind,
                event_id,
                asset.uuid,
            )
    return new_ids


def inbound_dead_letter_store(
    *, asset: ChannelAsset, body: bytes, content_type: str, reason: str
) -> int | None:
    """Keeps a signed event we could not read, so an admin can see it and replay it after a fix.

    PostgreSQL text cannot hold NUL: like bytes that are not UTF-8, it is kept as U+FFFD."""
    text = _storable(body.decode("utf-8", errors="replace"))
    logger.warning("dead letter on %s asset %s: %s", asset.kind, asset.uuid, reason)
    return _insert_event(
        asset=asset,
        provider_event_id=f"dead:{body_hash(body)}",
        body=text,
        content_type=content_type,
        status=InboundEvent.Status.DEAD,
        error=_storable(reason),
    )


def _storable(text: str) -> str:
    return text.replace("\x00", "\ufffd")


def inbound_event_replay(*, event: InboundEvent) -> bool:
    """Puts a dead (or ignored) event back in line; processing is idempotent per provider message id."""
    from channels_app.tasks import process_inbound_event

    with transaction.atomic():
        updated = InboundEvent.objects.filter(
            pk=event.pk, status__in=[InboundEvent.Status.DEAD, InboundEvent.Status.IGNORED]
        ).update(status=InboundEvent.Status.PENDING, error="")
        if updated:
            transaction.on_commit(lambda: enqueue(process_inbound_event, event.pk))
    return bool(updated)


STALE_AFTER = timedelta(minutes=2)
MAX_PROCESSING_ATTEMPTS = 5


def inbound_events_requeue_stale(
    *, now: datetime | None = None, batch: int = 500
) -> tuple[int, int]:
    """Queues again events still pending long after they arrived (their task was lost with a
    worker or a broker), and gives up on those that failed every attempt: dead letters, visible
    and replayable. Processing is idempotent, so a task that was merely slow does no harm.
    Returns (requeued, given up)."""
    from channels_app.tasks import process_inbound_event

    now = now or timezone.now()
    stale = InboundEvent.objects.filter(
        status=InboundEvent.Status.PENDING, received_at__lt=now - STALE_AFTER
    )
    given_up = InboundEvent.objects.filter(
        pk__in=list(
            stale.filter(attempts__gte=MAX_PROCESSING_ATTEMPTS).values_list("pk", flat=True)[:batch]
        ),
        status=InboundEvent.Status.PENDING,
    ).update(
        status=InboundEvent.Status.DEAD,
        error=f"processing failed {MAX_PROCESSING_ATTEMPTS} times; see the worker's log, then replay",
        processed_at=now,
    )
    ids = list(
        stale.filter(attempts__lt=MAX_PROCESSING_ATTEMPTS)
        .order_by("received_at")
        .values_list("pk", flat=True)[:batch]
    )
    for event_id in ids:
        process_inbound_event.delay(event_id)
    if ids or given_up:
        logger.warning("requeued %s stale inbound events, gave up on %s", len(ids), given_up)
    return len(ids), given_up


def inbound_event_process(*, event_id: int) -> str:
    """Normalizes one stored event. Returns the event's new status."""
    event = (
        InboundEvent.objects.select_related("asset", "asset__tenant")
        .filter(pk=event_id, status=InboundEvent.Status.PENDING)
        .first()
    )
    if event is None:
        return "skipped"
    InboundEvent.objects.filter(pk=event.pk).update(attempts=F("attempts") + 1)
    asset = event.asset
    provider = provider_for(asset.kind)
    try:
        items = provider.parse(asset, event.body, event.content_type)
    except SHAPE_ERRORS as exc:
        if not isinstance(exc, MalformedEvent):
            logger.exception("event %s: parser failed", event.pk)
        exc = malformed_from(exc)
        InboundEvent.objects.filter(pk=event.pk, status=InboundEvent.Status.PENDING).update(
            status=InboundEvent.Status.DEAD, error=_storable(str(exc)), processed_at=timezone.now()
        )
        logger.warning("event %s is a dead letter: %s", event.pk, exc)
        return InboundEvent.Status.DEAD
    try:
        for item in items:
            _check_item(item)
    except MalformedEvent as exc:
        InboundEvent.objects.filter(pk=event.pk, status=InboundEvent.Status.PENDING).update(
            status=InboundEvent.Status.DEAD, error=_storable(str(exc)), processed_at=timezone.now()
        )
        logger.warning("event %s is a dead letter: %s", event.pk, exc)
        return InboundEvent.Status.DEAD
    handled = False
    for item in items:
        if isinstance(item, InboundMessage):
            inbound_message_receive(asset=asset, item=item)
            handled = True
        elif isinstance(item, StatusUpdate):
            message_status_apply(asset=asset, update=item)
            handled = True
        elif isinstance(item, ConversationEnded):
            conversation_end_by_customer(asset=asset, item=item)
            handled = True
        elif isinstance(item, CustomerTyping):
            customer_typing_show(asset=asset, item=item)
            handled = True
        elif isinstance(item, Ignored):
            logger.info("event %s: %s", event.pk, item.reason)
    status = InboundEvent.Status.PROCESSED if handled else InboundEvent.Status.IGNORED
    InboundEvent.objects.filter(pk=event.pk, status=InboundEvent.Status.PENDING).update(
        status=status, processed_at=timezone.now(), error=""
    )
    return status


def customer_typing_show(*, asset: ChannelAsset, item: CustomerTyping) -> bool:
    """The owner's desktop shows that the customer is typing (the hint fades by itself)."""
    if not item.typing:
        return False
    conversation = (
        Conversation.objects.filter(
            asset=asset, identity__address=item.sender_address, status=Conversation.Status.OPEN
        )
        .only("id", "owner_id")
        .first()
    )
    if conversation is None or not conversation.owner_id:
        return False
    send_event_on_commit(
        groups=[agent_group(conversation.owner_id)],
        event="conversation.typing",
        payload={"conversation_id": conversation.pk},
    )
    return True


KEY_LENGTH = 255  # provider ids and addresses: CharField(max_length=255)


def _key(value, where: str) -> str:
    if not isinstance(value, str) or not value or len(value) > KEY_LENGTH or "\x00" in value:
        raise MalformedEvent(f"{where} must be text of 1 to {KEY_LENGTH} characters")
    return value


def _scrubbed(value):
    """PostgreSQL text and jsonb cannot hold NUL: it carries no meaning in a message, so it goes."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_scrubbed(k): _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v) for v in value]
    return value


def _check_item(item) -> None:
    """Checks what a parser took from the body fits the columns it goes to (ids and addresses
    whole, or a dead letter), and scrubs what text may hold (NUL). Raises MalformedEvent."""
    if isinstance(item, InboundMessage):
        _key(item.provider_message_id, "the message id")
        _key(item.sender_address, "the sender's address")
        if item.reply_to_provider_id:
            _key(item.reply_to_provider_id, "the id of the message replied to")
        if not isinstance(item.text, str) or not isinstance(item.sender_name, str):
            raise MalformedEvent(f"message {item.provider_message_id}: text must be text")
        item.text = _scrubbed(item.text)
        item.sender_name = _scrubbed(item.sender_name)[:200]
        item.content = _scrubbed(item.content)
        item.thread_provider_ids = [
            i for i in item.thread_provider_ids if isinstance(i, str) and 0 < len(i) <= KEY_LENGTH
        ]
    elif isinstance(item, StatusUpdate):
        for provider_id in item.provider_message_ids:
            _key(provider_id, "a status's message id")
        item.error = _scrubbed(str(item.error))
    elif isinstance(item, (ConversationEnded, CustomerTyping)):
        _key(item.sender_address, "the sender's address")


def conversation_end_by_customer(*, asset: ChannelAsset, item: ConversationEnded) -> bool:
    """The customer deleted the conversation on their device: the open one closes."""
    conversation = Conversation.objects.filter(
        asset=asset, identity__address=item.sender_address, status=Conversation.Status.OPEN
    ).first()
    if conversation is None:
        return False
    return conversation_close(conversation=conversation, reason=item.reason)


def _download(asset: ChannelAsset, ref: MediaRef) -> tuple[MediaRef, Media | None, str]:
    try:
        return ref, provider_for(asset.kind).transport(asset).download(ref=ref), ""
    except SendError as exc:
        logger.warning(
            "media %s of %s asset %s not downloaded: %s",
            ref.media_id or ref.url,
            asset.kind,
            asset.uuid,
            exc.reason,
        )
        return ref, None, exc.reason
    except (KeyError, ValueError) as exc:
        return ref, None, f"unexpected media answer: {exc}"


def inbound_message_receive(*, asset: ChannelAsset, item: InboundMessage) -> tuple[Message, bool]:
    """Downloads the media of a new inbound message (outside any transaction), then stores it."""
    existing = Message.objects.filter(
        asset=asset, provider_message_id=item.provider_message_id
    ).first()
    if existing is not None:
        return existing, False
    downloads = [_download(asset, ref) for ref in item.media]
    result = inbound_message_store(asset=asset, item=item, downloads=downloads)
    # A transport that keeps media for us (live chat's upload spool) may drop it once stored.
    release = getattr(provider_for(asset.kind).transport(asset), "media_stored", None)
    if release is not None and item.media:
        transaction.on_commit(lambda: release(refs=item.media), robust=True)
    return result


class _Duplicate(Exception):
    pass


def _constraint_name(exc: IntegrityError) -> str:
    return getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) or ""


def inbound_message_store(
    *,
    asset: ChannelAsset,
    item: InboundMessage,
    downloads: list[tuple[MediaRef, Media | None, str]] = (),
) -> tuple[Message, bool]:
    """Customer, conversation, message and attachments of one inbound message, exactly once."""
    try:
        with files_removed_on_failure():
            return _store(asset=asset, item=item, downloads=downloads)
    except _Duplicate:
        return Message.objects.get(asset=asset, provider_message_id=item.provider_message_id), False


@transaction.atomic
def _store(*, asset: ChannelAsset, item: InboundMessage, downloads) -> tuple[Message, bool]:
    now = timezone.now()
    at = min(item.sent_at, now) if item.sent_at else now
    identity, identity_is_new = customer_identity_find_or_create(
        tenant=asset.tenant,
        kind=asset.kind,
        address=item.sender_address,
        display_name=item.sender_name,
    )
    conversation, created = conversation_get_or_open(
        asset=asset,
        identity=identity,
        at=at,
        identity_is_new=identity_is_new,
        thread_ids=item.thread_provider_ids,
    )
    if created and item.variables:
        # Before the inbound flow's first run, which reads them.
        conversation.variables = {**item.variables, **(conversation.variables or {})}
        conversation.save(update_fields=["variables"])
    reply_to = None
    if item.reply_to_provider_id:
        reply_to = Message.objects.filter(
            asset=asset, provider_message_id=item.reply_to_provider_id
        ).first()
    content = dict(item.content)
    try:
        # No savepoint: a duplicate ends the whole store (see inbound_message_store).
        with transaction.atomic(savepoint=False):
            message = Message.objects.create(
                tenant=asset.tenant,
                conversation=conversation,
                asset=asset,
                direction=Direction.INBOUND,
                author_kind=AuthorKind.CUSTOMER,
                content_type=item.content_type,
                text=item.text,
                # A copy: media errors added below must differ from what was stored to be saved.
                content=dict(content),
                reply_to=reply_to,
                reply_to_provider_id=item.reply_to_provider_id,
                provider_message_id=item.provider_message_id,
                status=DeliveryStatus.RECEIVED,
                created_at=at,
            )
    except IntegrityError as exc:
        # The same message, delivered concurrently, was stored by another worker; any other
        # broken rule is a real error and stays one.
        if _constraint_name(exc) != "message_unique_provider_id":
            raise
        raise _Duplicate from exc
    template = channel_template_for(tenant=asset.tenant, kind=asset.kind) if downloads else None
    to_scan: list[int] = []
    for ref, media, error in downloads:
        attachment = Attachment(
            tenant=asset.tenant,
            message=message,
            filename=((media.filename if media else "") or ref.filename)[:255],
            declared_content_type=(
                (media.content_type if media else "") or ref.declared_content_type
            )[:120],
            provider_media_id=ref.media_id,
            provider_url=ref.url[:1000],
            # Nothing downloaded, nothing to scan: the row only says a file was sent.
            scan_status=Attachment.ScanStatus.NOT_SCANNED,
        )
        if media is not None:
            # Checked against the channel template by its real type; the message is delivered
            # either way, a refused file with its reason.
            attachment_file_accept(attachment=attachment, data=media.content, template=template)
        attachment.save()
        if attachment.scan_status == Attachment.ScanStatus.PENDING:
            to_scan.append(attachment.pk)
        if error:
            content.setdefault("media_errors", []).append(error)
    attachments_scan_on_commit(attachment_ids=to_scan)
    if content != message.content:
        message.content = content
        message.save(update_fields=["content"])
    if not created:  # a new conversation was opened with both times at `at`
        Conversation.objects.filter(pk=conversation.pk, last_message_at__lt=at).update(
            last_message_at=at
        )
        Conversation.objects.filter(
            Q(last_inbound_at__isnull=True) | Q(last_inbound_at__lt=at), pk=conversation.pk
        ).update(last_inbound_at=at)
    events.announce(
        events.MESSAGE_RECEIVED,
        message_id=message.pk,
        conversation_id=conversation.pk,
        conversation_created=created,
    )
    # The owner's desktop, and supervisors watching the conversation in the care console.
    groups = watcher_groups(tenant_id=conversation.tenant_id, agent_id=conversation.owner_id)
    send_event_on_commit(
        groups=groups,
        event="message.new",
        payload={"conversation_id": conversation.pk, "message_id": message.pk},
    )
    return message, True


STATUS_RANK = {
    DeliveryStatus.PENDING: 0,
    DeliveryStatus.SENT: 1,
    DeliveryStatus.DELIVERED: 2,
    DeliveryStatus.READ: 3,
    DeliveryStatus.FAILED: 4,
}
TIME_FIELD = {
    DeliveryStatus.SENT: "sent_at",
    DeliveryStatus.DELIVERED: "delivered_at",
    DeliveryStatus.READ: "read_at",
    DeliveryStatus.FAILED: "failed_at",
}


@transaction.atomic
def message_status_apply(*, asset: ChannelAsset, update: StatusUpdate) -> int:
    """Records delivery news on outbound messages; statuses only move forward. Returns how many changed."""
    at: datetime = update.at or timezone.now()
    messages = Message.objects.filter(asset=asset, direction=Direction.OUTBOUND)
    if update.watermark_recipient:
        messages = messages.filter(
            conversation__identity__address=update.watermark_recipient, sent_at__lte=at
        ).exclude(status__in=[update.status, DeliveryStatus.FAILED, DeliveryStatus.READ])
    else:
        messages = messages.filter(provider_message_id__in=update.provider_message_ids)
    changed = 0
    for message in messages.select_related("conversation").select_for_update(of=("self",)):
        fields = []
        for status in (DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.READ):
            # Read implies delivered implies sent, whatever order the provider reports them in.
            if (
                update.status != DeliveryStatus.FAILED
                and STATUS_RANK[status] <= STATUS_RANK[update.status]
            ):
                if getattr(message, TIME_FIELD[status]) is None:
                    setattr(message, TIME_FIELD[status], at)
                    fields.append(TIME_FIELD[status])
        if update.status == DeliveryStatus.FAILED and message.failed_at is None:
            message.failed_at = at
            message.failure_reason = update.error or "the provider reported the message as failed"
            fields += ["failed_at", "failure_reason"]
        moves = (
            STATUS_RANK[update.status] > STATUS_RANK.get(message.status, 0)
            and message.status != DeliveryStatus.FAILED
        )
        if moves:
            message.status = update.status
            fields.append("status")
        if not fields:
            continue
        message.save(update_fields=fields)
        changed += 1
        if moves:
            events.announce(
                events.MESSAGE_STATUS_CHANGED,
                message_id=message.pk,
                conversation_id=message.conversation_id,
                status=message.status,
            )
            if message.conversation.owner_id:
                send_event_on_commit(
                    groups=[agent_group(message.conversation.owner_id)],
                    event="message.status",
                    payload={
                        "conversation_id": message.conversation_id,
                        "message_id": message.pk,
                        "status": message.status,
                    },
                )
    return changed
