"""WhatsApp message templates: the asset's templates fetched from the business account and kept
in the database, and sending one (the only way to write outside the 24-hour window)."""

import logging
import re
from datetime import timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from channels_app.models import ChannelAsset, ChannelKind, Conversation, Message, WhatsAppTemplate
from channels_app.providers import provider_for
from channels_app.providers.base import SendError
from channels_app.services.outbound import SendRefused, message_send
from tenants.models import Agent

logger = logging.getLogger(__name__)

# Templates change rarely (Meta reviews every change); a fetch per quarter hour per asset is plenty.
TEMPLATE_CACHE_TTL = timedelta(minutes=15)
MAX_PARAMETER_LENGTH = 1024
PLACEHOLDER = re.compile(r"\{\{(\d+)\}\}")


def _body_text(components: list) -> str:
    for component in components or []:
        if isinstance(component, dict) and str(component.get("type", "")).upper() == "BODY":
            return str(component.get("text", ""))
    return ""


def template_parameter_count(body_text: str) -> int:
    return len(set(PLACEHOLDER.findall(body_text)))


def whatsapp_templates_refresh(*, asset: ChannelAsset) -> int:
    """Fetches every template of the asset's business account and replaces the stored copy.
    Raises SendError (transient or permanent) when the provider cannot be asked."""
    if asset.kind != ChannelKind.WHATSAPP:
        raise SendRefused("message templates are a WhatsApp feature")
    if not asset.wa_business_account_id:
        raise SendRefused("the asset has no WhatsApp business account id to list templates of")
    fetched = provider_for(asset.kind).transport(asset).message_templates()
    now = timezone.now()
    rows: dict[tuple[str, str], WhatsAppTemplate] = {}
    for item in fetched:
        if not isinstance(item, dict) or not item.get("name") or not item.get("language"):
            continue
        components = item.get("components") if isinstance(item.get("components"), list) else []
        body = _body_text(components)
        rows[(str(item["name"])[:512], str(item["language"])[:20])] = WhatsAppTemplate(
            tenant_id=asset.tenant_id,
            asset=asset,
            name=str(item["name"])[:512],
            language=str(item["language"])[:20],
            status=str(item.get("status", ""))[:20].upper(),
            category=str(item.get("category", ""))[:40].upper(),
            components=components,
            body_text=body,
            parameter_count=template_parameter_count(body),
            fetched_at=now,
        )
    with transaction.atomic():
        WhatsAppTemplate.objects.filter(asset=asset).delete()
        WhatsAppTemplate.objects.bulk_create(rows.values())
    return len(rows)


def whatsapp_templates_refresh_stale() -> tuple[int, int]:
    """The periodic refresh: every WhatsApp asset with a business account whose stored copy is
    stale. Returns (refreshed, failed); a failing asset is logged and tried again next time."""
    refreshed = failed = 0
    assets = ChannelAsset.objects.filter(kind=ChannelKind.WHATSAPP).exclude(
        wa_business_account_id=""
    )
    for asset in assets:
        if not whatsapp_templates_stale(asset=asset):
            continue
        try:
            whatsapp_templates_refresh(asset=asset)
            refreshed += 1
        except (SendError, SendRefused) as exc:
            failed += 1
            logger.warning(
                "templates of asset %s not refreshed: %s",
                asset.pk,
                getattr(exc, "reason", None) or exc,
            )
    return refreshed, failed


def whatsapp_templates_stale(*, asset: ChannelAsset) -> bool:
    last = WhatsAppTemplate.objects.filter(asset=asset).aggregate(last=Max("fetched_at"))["last"]
    return last is None or timezone.now() - last >= TEMPLATE_CACHE_TTL


def whatsapp_template_render(*, template: WhatsAppTemplate, parameters: list) -> str:
    """The body the customer reads, with {{n}} filled in; refuses a wrong or empty parameter."""
    if not isinstance(parameters, list) or any(not isinstance(p, str) for p in parameters):
        raise SendRefused("template parameters are a list of texts")
    values = [p.strip() for p in parameters]
    if len(values) != template.parameter_count:
        raise SendRefused(
            f"the template {template.name} needs {template.parameter_count} "
            f"parameter(s), got {len(values)}"
        )
    for number, value in enumerate(values, start=1):
        if not value:
            raise SendRefused(f"parameter {{{{{number}}}}} of {template.name} is empty")
        if len(value) > MAX_PARAMETER_LENGTH or "\n" in value or "\t" in value:
            raise SendRefused(
                f"parameter {{{{{number}}}}} must be one line of at most "
                f"{MAX_PARAMETER_LENGTH} characters"
            )
    return PLACEHOLDER.sub(
        lambda m: values[int(m.group(1)) - 1] if 0 < int(m.group(1)) <= len(values) else m.group(0),
        template.body_text,
    )


def whatsapp_template_send(
    *,
    conversation: Conversation,
    name: str,
    language: str,
    parameters: list,
    author_kind: str,
    author_agent: Agent | None = None,
) -> Message:
    """Sends one of the asset's approved templates with its body parameters filled in."""
    if conversation.kind != ChannelKind.WHATSAPP:
        raise SendRefused("template messages are a WhatsApp feature")

    def approved() -> WhatsAppTemplate | None:
        return WhatsAppTemplate.objects.filter(
            asset_id=conversation.asset_id,
            name=name,
            language=language,
            status=WhatsAppTemplate.APPROVED,
        ).first()

    template = approved()
    if template is None and whatsapp_templates_stale(asset=conversation.asset):
        try:
            whatsapp_templates_refresh(asset=conversation.asset)
        except SendError as exc:
            raise SendRefused(f"the templates could not be fetched: {exc.reason}") from exc
        template = approved()
    if template is None:
        raise SendRefused(
            f"{name} ({language}) is not an approved template of this WhatsApp number"
        )
    text = whatsapp_template_render(template=template, parameters=parameters)
    components = (
        [
            {
                "type": "body",
                "parameters": [{"type": "text", "text": p.strip()} for p in parameters],
            }
        ]
        if parameters
        else []
    )
    return message_send(
        conversation=conversation,
        text=text,
        author_kind=author_kind,
        author_agent=author_agent,
        template={"name": template.name, "language": template.language, "components": components},
    )
