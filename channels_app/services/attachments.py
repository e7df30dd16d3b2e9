"""Attachment scanning: a stored file waits (pending) until clamd finds it clean; an infected one
is deleted from storage, shown as an unknown file and audited."""

import hashlib
import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from channels_app import scanning
from channels_app.models import Attachment, ChannelKind, MalwareDetection, Message
from tenants.realtime import send_event_on_commit, watcher_groups

logger = logging.getLogger(__name__)

# A pending scan queued longer ago than this is queued again by the sweep (its task's retries
# have run out, or the task was lost with a worker).
REQUEUE_AFTER = timedelta(minutes=5)
REQUEUE_BATCH = 500


def attachments_scan_on_commit(*, attachment_ids: list[int]) -> None:
    """Queues the scans once the attachments are committed (never inline in a webhook)."""
    from channels_app.tasks import scan_attachment

    for attachment_id in attachment_ids:
        scan_attachment.delay_on_commit(attachment_id)


def attachment_scan(*, attachment_id: int) -> str:
    """Scans one pending attachment. Returns its new status, or "retry" when clamd gave no
    answer (the file stays pending and withheld)."""
    attachment = (
        Attachment.objects.select_related("message", "message__conversation")
        .filter(pk=attachment_id)
        .first()
    )
    if attachment is None or attachment.scan_status != Attachment.ScanStatus.PENDING:
        return attachment.scan_status if attachment else "gone"
    if not scanning.scanner_configured():
        Attachment.objects.filter(
            pk=attachment.pk, scan_status=Attachment.ScanStatus.PENDING
        ).update(scan_status=Attachment.ScanStatus.NOT_SCANNED)
        return Attachment.ScanStatus.NOT_SCANNED
    try:
        with attachment.file.open("rb") as handle:
            data = handle.read()
    except (FileNotFoundError, ValueError):
        # No file to scan (lost from storage): withheld for good.
        Attachment.objects.filter(
            pk=attachment.pk, scan_status=Attachment.ScanStatus.PENDING
        ).update(scan_status=Attachment.ScanStatus.ERROR, scanned_at=timezone.now())
        logger.error("attachment %s has no file to scan", attachment.pk)
        return Attachment.ScanStatus.ERROR
    verdict = scanning.scan_bytes(data)
    if verdict.status == scanning.UNAVAILABLE:
        return "retry"
    if verdict.status == scanning.CLEAN:
        with transaction.atomic():
            if Attachment.objects.filter(
                pk=attachment.pk, scan_status=Attachment.ScanStatus.PENDING
            ).update(scan_status=Attachment.ScanStatus.CLEAN, scanned_at=timezone.now()):
                _announce_scanned(attachment)
        return Attachment.ScanStatus.CLEAN
    attachment_quarantine(attachment=attachment, signature=verdict.signature, data=data)
    return Attachment.ScanStatus.INFECTED


def _announce_scanned(attachment: Attachment) -> None:
    """A hint to the owner's desktop and the care console to re-read the message."""
    conversation = attachment.message.conversation
    groups = watcher_groups(tenant_id=conversation.tenant_id, agent_id=conversation.owner_id)
    send_event_on_commit(
        groups=groups,
        event="message.attachments",
        payload={"conversation_id": conversation.pk, "message_id": attachment.message_id},
    )
    if conversation.kind == ChannelKind.CHAT:
        # A live-chat visitor sees their own file turn downloadable (or refused) at once.
        from channels_app.providers.livechat.transport import message_frame, visitor_group

        message = Message.objects.select_related("author_agent").get(pk=attachment.message_id)
        send_event_on_commit(
            groups=[visitor_group(conversation.identity.address)],
            event="message",
            payload=message_frame(message),
        )


def attachment_quarantine(*, attachment: Attachment, signature: str, data: bytes) -> None:
    """An infected file: its bytes are deleted, the row keeps no name or type, and the find is
    audited (MalwareDetection) and logged."""
    name = attachment.file.name
    with transaction.atomic():
        updated = Attachment.objects.filter(
            pk=attachment.pk, scan_status=Attachment.ScanStatus.PENDING
        ).update(
            scan_status=Attachment.ScanStatus.INFECTED,
            scan_signature=signature[:255],
            scanned_at=timezone.now(),
            file="",
            filename="",
            declared_content_type="",
            detected_content_type="",
        )
        if not updated:
            return
        _announce_scanned(attachment)
        MalwareDetection.objects.create(
            tenant_id=attachment.tenant_id,
            attachment=attachment,
            message=attachment.message,
            kind=attachment.message.conversation.kind,
            direction=attachment.message.direction,
            signature=signature[:255],
            filename=attachment.filename,
            content_type=attachment.content_type,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
        )
    if name:
        attachment.file.storage.delete(name)
    logger.warning(
        "attachment %s of message %s is infected (%s): file deleted",
        attachment.pk,
        attachment.message_id,
        signature,
    )


def attachments_requeue_pending_scans() -> int:
    """The sweep: pending scans whose task gave up or was lost are queued again, and so are files
    kept unscanned before a scanner was configured."""
    if not scanning.scanner_configured():
        return 0
    cutoff = timezone.now() - REQUEUE_AFTER
    # Files kept while no scanner was configured wait for one now that it is.
    unscanned = list(
        Attachment.objects.filter(scan_status=Attachment.ScanStatus.NOT_SCANNED, refused_reason="")
        .exclude(file="")
        .values_list("pk", flat=True)[:REQUEUE_BATCH]
    )
    Attachment.objects.filter(
        pk__in=unscanned, scan_status=Attachment.ScanStatus.NOT_SCANNED
    ).update(scan_status=Attachment.ScanStatus.PENDING, scan_queued_at=None)
    with transaction.atomic():
        ids = list(
            Attachment.objects.select_for_update(skip_locked=True)
            .filter(
                Q(scan_queued_at__lt=cutoff) | Q(scan_queued_at__isnull=True),
                scan_status=Attachment.ScanStatus.PENDING,
            )
            .order_by("scan_queued_at")
            .values_list("pk", flat=True)[:REQUEUE_BATCH]
        )
        Attachment.objects.filter(pk__in=ids).update(scan_queued_at=timezone.now())
        attachments_scan_on_commit(attachment_ids=ids)
    return len(ids)
