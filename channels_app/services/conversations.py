import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from channels_app import events
from channels_app.models import (
    ChannelKind,
    Conversation,
    ConversationLink,
    Customer,
    CustomerIdentity,
)
from channels_app.services.retention import retention_purge
from tenants.models import Tenant, TenantPolicy
from tenants.realtime import Push, agent_group, send_event_on_commit, send_events_on_commit

logger = logging.getLogger(__name__)

PHONE_KINDS = (ChannelKind.WHATSAPP, ChannelKind.SMS)
DEFAULT_POLICY = TenantPolicy()


def _phone_variants(kind: str, address: str) -> list[str]:
    digits = address.lstrip("+")
    return [digits, f"+{digits}"] if kind in PHONE_KINDS and digits.isdigit() else []


def customer_identity_get_or_create(
    *, tenant: Tenant, kind: str, address: str, display_name: str = ""
) -> CustomerIdentity:
    """One customer per person: a WhatsApp id and an SMS number of the same phone are one person."""
    return customer_identity_find_or_create(
        tenant=tenant, kind=kind, address=address, display_name=display_name
    )[0]


def customer_identity_find_or_create(
    *, tenant: Tenant, kind: str, address: str, display_name: str = ""
) -> tuple[CustomerIdentity, bool]:
    """The identity and whether this call created it. One read finds both the identity and, for a
    phone number, the same phone's identity on the other phone channel (its customer is reused)."""
    variants = _phone_variants(kind, address)
    wanted = Q(kind=kind, address=address)
    if variants:
        wanted |= Q(kind__in=[k for k in PHONE_KINDS if k != kind], address__in=variants)
    found = list(
        CustomerIdentity.objects.select_related("customer")
        .filter(wanted, tenant=tenant)
        .order_by("pk")
    )
    identity = next((i for i in found if i.kind == kind and i.address == address), None)
    if identity is not None:
        customer = identity.customer
        # A provider's profile name fills a gap; it never replaces a name an agent gave.
        if display_name and not customer.display_name and not customer.name_set_by_agent:
            Customer.objects.filter(
                pk=identity.customer_id, display_name="", name_set_by_agent=False
            ).update(display_name=display_name)
        return identity, False
    sibling = found[0] if found else None
    try:
        with transaction.atomic():
            customer = (
                sibling.customer
                if sibling
                else Customer.objects.create(
                    tenant=tenant,
                    display_name=display_name or (address if kind == ChannelKind.SMS else ""),
                )
            )
            identity = CustomerIdentity.objects.create(
                tenant=tenant, customer=customer, kind=kind, address=address
            )
            identity.customer = customer
            return identity, True
    except IntegrityError:
        # Someone else created it between our read and our insert: theirs is the one.
        return CustomerIdentity.objects.select_related("customer").get(
            tenant=tenant, kind=kind, address=address
        ), False


def conversation_get_or_open(
    *,
    asset,
    identity: CustomerIdentity,
    at: datetime,
    identity_is_new: bool = False,
    thread_ids: list[str] = (),
) -> tuple[Conversation, bool]:
    """The open conversation of this customer on this asset, or a new one (a closed one stays closed).

    It is opened by the customer's message at `at`. identity_is_new: the identity was created in
    the current transaction, so no other transaction can see it yet: it has no conversation and
    none can be opened for it concurrently (no read, no savepoint). thread_ids: provider ids of the
    messages this one continues (email threading). The open conversation holding one of them is
    joined; when it is closed, the new conversation is linked to it."""
    previous = None
    if thread_ids:
        threaded = (
            Conversation.objects.filter(
                asset=asset, messages__provider_message_id__in=list(thread_ids)
            )
            .order_by("-opened_at")
            .first()
        )
        if threaded is not None and threaded.status == Conversation.Status.OPEN:
            return threaded, False
        previous = threaded
    fields = {
        "tenant": asset.tenant,
        "asset": asset,
        "customer_id": identity.customer_id,
        "identity": identity,
        "kind": asset.kind,
        "opened_at": at,
        "last_message_at": at,
        "last_inbound_at": at,
    }
    if identity_is_new:
        conversation = Conversation.objects.create(**fields)
    else:
        conversation = Conversation.objects.filter(
            asset=asset, identity=identity, status=Conversation.Status.OPEN
        ).first()
        if conversation is not None:
            return conversation, False
        try:
            with transaction.atomic():
                conversation = Conversation.objects.create(**fields)
        except IntegrityError:
            return Conversation.objects.get(
                asset=asset, identity=identity, status=Conversation.Status.OPEN
            ), False
    if previous is not None:
        ConversationLink.objects.create(
            tenant_id=asset.tenant_id, conversation=conversation, previous=previous
        )
    events.announce(events.CONVERSATION_OPENED, conversation_id=conversation.pk)
    return conversation, True


def conversation_close(*, conversation: Conversation, reason: str, wrap_up_code: str = "") -> bool:
    """Closes an open conversation once; False when it was already closed."""
    now = timezone.now()
    with transaction.atomic():
        closed = Conversation.objects.filter(
            pk=conversation.pk, status=Conversation.Status.OPEN
        ).update(
            status=Conversation.Status.CLOSED,
            closed_at=now,
            close_reason=reason[:40],
            wrap_up_code=wrap_up_code,
        )
        if not closed:
            return False
        conversation.status, conversation.closed_at = Conversation.Status.CLOSED, now
        conversation.close_reason, conversation.wrap_up_code = reason[:40], wrap_up_code
        events.announce(events.CONVERSATION_CLOSED, conversation_id=conversation.pk, reason=reason)
        if conversation.owner_id:
            send_event_on_commit(
                groups=[agent_group(conversation.owner_id)],
                event="conversation.closed",
                payload={"conversation_id": conversation.pk, "reason": reason},
            )
    return True


def _policies() -> list[tuple[int, TenantPolicy]]:
    """Every tenant with its policy: read from the tenants table, so a pass costs one row a tenant
    however many conversations they hold."""
    tenant_ids = list(Tenant.objects.order_by("pk").values_list("pk", flat=True))
    policies = {p.tenant_id: p for p in TenantPolicy.objects.filter(tenant_id__in=tenant_ids)}
    return [(tenant_id, policies.get(tenant_id, DEFAULT_POLICY)) for tenant_id in tenant_ids]


def conversations_close_inactive(*, now: datetime | None = None, batch: int = 500) -> int:
    """Closes open conversations idle for longer than their tenant's inactivity policy.

    Per tenant and batch: one locking read of the due rows (a range of the tenant/status/
    last_message_at index, so open conversations that are not due cost nothing), one UPDATE and
    one batch of pushes."""
    now = now or timezone.now()
    closed = 0
    for tenant_id, policy in _policies():
        cutoff = now - timedelta(minutes=policy.inactivity_close_minutes)
        while True:
            with transaction.atomic():
                # Locked and re-checked: a message that arrived meanwhile keeps it open.
                due = list(
                    Conversation.objects.select_for_update(skip_locked=True)
                    .filter(
                        tenant_id=tenant_id,
                        status=Conversation.Status.OPEN,
                        last_message_at__lt=cutoff,
                    )
                    .order_by("last_message_at", "pk")
                    .values_list("pk", "owner_id")[:batch]
                )
                if not due:
                    break
                Conversation.objects.filter(pk__in=[pk for pk, _ in due]).update(
                    status=Conversation.Status.CLOSED, closed_at=now, close_reason="inactivity"
                )
                for pk, _ in due:
                    events.announce(
                        events.CONVERSATION_CLOSED, conversation_id=pk, reason="inactivity"
                    )
                send_events_on_commit(
                    [
                        Push(
                            [agent_group(owner_id)],
                            "conversation.closed",
                            {"conversation_id": pk, "reason": "inactivity"},
                        )
                        for pk, owner_id in due
                        if owner_id
                    ]
                )
            closed += len(due)
            if len(due) < batch:
                break
    return closed


def transcripts_purge_expired(*, now: datetime | None = None, batch: int = 500) -> int:
    """Applies retention (see services.retention); returns how many conversations were deleted."""
    return sum(run.conversations for run in retention_purge(now=now, batch=batch))
