"""Retention: expired transcripts go with everything that holds their words (messages, attachment
files, flow runs, raw webhook bodies), and processed raw events expire on their own much sooner.

Deletes run in batches of ids, each in its own short transaction, so the tables stay usable while
a large backlog is purged. Every tenant's run that deleted something leaves a RetentionRun row.
"""

import logging
from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import ProtectedError, Q, QuerySet
from django.utils import timezone

from channels_app.models import Attachment, Conversation, InboundEvent, Message, RetentionRun
from tenants.models import Tenant, TenantPolicy

logger = logging.getLogger(__name__)

# Counted by the model labels Django's delete() reports (flow runs belong to routing, which this
# app must not import; the cascade deletes them and the label tells how many).
FLOW_RUN_LABEL = "flows.FlowRun"


def _raw_events_of(*, tenant_id: int, ids: list[int]) -> QuerySet[InboundEvent]:
    """The raw events that carried these conversations' inbound messages."""
    pairs = (
        Message.objects.filter(conversation_id__in=ids)
        .exclude(provider_message_id="")
        .values_list("asset_id", "provider_message_id")
    )
    match = Q()
    for asset_id, provider_id in pairs:
        match |= Q(asset_id=asset_id, provider_event_id=provider_id)
    if not match:
        return InboundEvent.objects.none()
    return InboundEvent.objects.filter(match, tenant_id=tenant_id)


def _conversations_delete(*, tenant_id: int, ids: list[int], counts: Counter) -> list[int]:
    """Deletes the conversations (and what cascades from them); returns the ids it had to keep."""
    files = list(
        Attachment.objects.filter(message__conversation_id__in=ids)
        .exclude(file="")
        .values_list("file", flat=True)
    )
    try:
        with transaction.atomic():
            raw, _ = _raw_events_of(tenant_id=tenant_id, ids=ids).delete()
            _, per_model = Conversation.objects.filter(pk__in=ids).delete()
    except ProtectedError:
        if len(ids) == 1:
            logger.warning("conversation %s is still referenced; kept past retention", ids[0])
            return ids
        # One of them is referenced: find it by deleting one at a time.
        kept = []
        for pk in ids:
            kept += _conversations_delete(tenant_id=tenant_id, ids=[pk], counts=counts)
        return kept
    counts["raw_events"] += raw
    counts["conversations"] += per_model.get("channels_app.Conversation", 0)
    counts["messages"] += per_model.get("channels_app.Message", 0)
    counts["flow_runs"] += per_model.get(FLOW_RUN_LABEL, 0)
    storage = Attachment._meta.get_field("file").storage
    for name in files:
        storage.delete(name)
        counts["files"] += 1
    return []


def _delete_in_batches(queryset: QuerySet, *, batch: int) -> int:
    deleted = 0
    while True:
        ids = list(queryset.order_by().values_list("pk", flat=True)[:batch])
        if not ids:
            return deleted
        count, _ = queryset.model.objects.filter(pk__in=ids).delete()
        deleted += count


def _tenant_retention(
    *, tenant_id: int, policy: TenantPolicy, now: datetime, batch: int
) -> RetentionRun | None:
    started = timezone.now()
    counts: Counter = Counter()
    cutoff = now - timedelta(days=policy.transcript_retention_days)
    kept: list[int] = []
    expired = Conversation.objects.filter(
        tenant_id=tenant_id, status=Conversation.Status.CLOSED, closed_at__lt=cutoff
    )
    while True:
        ids = list(expired.exclude(pk__in=kept).order_by("pk").values_list("pk", flat=True)[:batch])
        if not ids:
            break
        kept += _conversations_delete(tenant_id=tenant_id, ids=ids, counts=counts)
    raw_cutoff = now - timedelta(hours=settings.RAW_EVENT_RETENTION_HOURS)
    counts["raw_events"] += _delete_in_batches(
        InboundEvent.objects.filter(tenant_id=tenant_id).filter(
            # Processed and ignored bodies served their purpose; dead and pending ones are kept
            # for replay, but never longer than the transcripts themselves.
            Q(
                status__in=[InboundEvent.Status.PROCESSED, InboundEvent.Status.IGNORED],
                received_at__lt=raw_cutoff,
            )
            | Q(received_at__lt=cutoff)
        ),
        batch=batch,
    )
    if not any(counts.values()) and not kept:
        return None
    return RetentionRun.objects.create(
        tenant_id=tenant_id,
        started_at=started,
        finished_at=timezone.now(),
        conversations=counts["conversations"],
        messages=counts["messages"],
        raw_events=counts["raw_events"],
        flow_runs=counts["flow_runs"],
        files=counts["files"],
        kept=len(kept),
    )


def retention_purge(*, now: datetime | None = None, batch: int = 500) -> list[RetentionRun]:
    """Applies every tenant's retention; returns the runs that deleted something."""
    now = now or timezone.now()
    policies = {p.tenant_id: p for p in TenantPolicy.objects.all()}
    runs = []
    for tenant_id in Tenant.objects.order_by("pk").values_list("pk", flat=True):
        run = _tenant_retention(
            tenant_id=tenant_id,
            policy=policies.get(tenant_id) or TenantPolicy(),
            now=now,
            batch=batch,
        )
        if run is not None:
            runs.append(run)
    return runs
