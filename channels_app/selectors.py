"""Reads of channels_app, scoped to a tenant (or, for webhooks, to the asset in the URL)."""

import time

from django.conf import settings
from django.db.models import Count, QuerySet

from channels_app.models import (
    Attachment,
    ChannelAsset,
    ChannelKind,
    ChannelTemplate,
    Conversation,
    InboundEvent,
    Message,
)
from tenants.models import Tenant

# Webhooks look up the same few assets all day: each process keeps them for a few seconds
# (settings.CHANNEL_ASSET_CACHE_SECONDS), so a changed secret applies within that time.
_asset_cache: dict[tuple[str, str], tuple[float, ChannelAsset]] = {}


def asset_for_webhook(*, kind: str, uuid) -> ChannelAsset | None:
    ttl = getattr(settings, "CHANNEL_ASSET_CACHE_SECONDS", 0)
    key = (kind, str(uuid))
    now = time.monotonic()
    if ttl > 0:
        cached = _asset_cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
    asset = ChannelAsset.objects.filter(uuid=uuid, kind=kind).first()
    if ttl > 0 and asset is not None:
        if len(_asset_cache) > 10_000:
            _asset_cache.clear()
        _asset_cache[key] = (now + ttl, asset)
    return asset


def dead_letter_list(*, tenant: Tenant) -> QuerySet[InboundEvent]:
    return InboundEvent.objects.filter(
        tenant=tenant, status=InboundEvent.Status.DEAD
    ).select_related("asset")


def conversation_list(*, tenant: Tenant, status: str | None = None) -> QuerySet[Conversation]:
    conversations = Conversation.objects.filter(tenant=tenant).select_related(
        "asset", "customer", "identity"
    )
    if status:
        conversations = conversations.filter(status=status)
    return conversations.annotate(message_count=Count("messages"))


def message_list(*, conversation: Conversation) -> QuerySet[Message]:
    return conversation.messages.select_related("reply_to").prefetch_related("attachments")


def channel_template_for(*, tenant: Tenant, kind: str) -> ChannelTemplate:
    """The tenant's saved template for the channel, or the unsaved default."""
    template = ChannelTemplate.objects.filter(tenant=tenant, kind=kind).first()
    return template or ChannelTemplate.default_for(tenant=tenant, kind=kind)


def channel_template_list(*, tenant: Tenant) -> list[ChannelTemplate]:
    """Every channel's template, saved or default, in the order of the channel kinds."""
    saved = {t.kind: t for t in ChannelTemplate.objects.filter(tenant=tenant)}
    return [
        saved.get(kind) or ChannelTemplate.default_for(tenant=tenant, kind=kind)
        for kind in ChannelKind.values
    ]


def whatsapp_templates_approved(*, asset: ChannelAsset) -> list:
    """The stored approved templates of a WhatsApp asset (refreshing is a service's job)."""
    from channels_app.models import WhatsAppTemplate

    return list(
        WhatsAppTemplate.objects.filter(asset=asset, status=WhatsAppTemplate.APPROVED).order_by(
            "name", "language"
        )
    )


def attachments_downloadable() -> QuerySet[Attachment]:
    """Attachments whose file may be served: scanned clean and taken by the channel template.
    Callers narrow it to the tenant and to what the user may see."""
    return Attachment.objects.filter(
        scan_status=Attachment.ScanStatus.CLEAN, refused_reason=""
    ).exclude(file="")


def customer_conversation_history(
    *, customer_id: int, tenant_id: int, limit: int = 50
) -> list[Conversation]:
    """A customer's conversations on every channel, newest first, with their message counts and
    the last message's text: what the customer panel lists."""
    from django.db.models import OuterRef, Subquery

    last_text = (
        Message.objects.filter(conversation_id=OuterRef("pk"))
        .order_by("-created_at", "-id")
        .values("text")[:1]
    )
    return list(
        Conversation.objects.filter(tenant_id=tenant_id, customer_id=customer_id)
        .select_related("identity")
        .annotate(message_count=Count("messages"), last_text=Subquery(last_text))
        .order_by("-opened_at", "-id")[:limit]
    )


def customer_by_address(*, tenant_id: int, address: str, kind: str = ""):
    """The live customer record holding this exact address in the tenant (None when there is
    none, or when the address belongs to several customers and no kind says which)."""
    from channels_app.models import CustomerIdentity

    address = address.strip()
    # A phone number is found with or without its "+" (WhatsApp ids have none, SMS numbers have).
    digits = address.lstrip("+").replace(" ", "")
    wanted = {address, digits, f"+{digits}"} if digits.isdigit() else {address}
    identities = CustomerIdentity.objects.filter(tenant_id=tenant_id, address__in=wanted)
    if kind:
        identities = identities.filter(kind=kind)
    customers = {i.customer_id: i.customer for i in identities.select_related("customer")}
    if len(customers) != 1:
        return None
    customer = next(iter(customers.values()))
    return None if customer.merged_into_id else customer
