"""The desktop's customer panel and canned responses, as small HTML and JSON endpoints.

Everything hangs off a conversation the agent owns and that is open: the agent reads and edits
the profile of the customer they are serving now, reads that customer's earlier transcripts
(read-only, on every channel of the tenant), links another record of the same person and undoes
such a link. Anything else does not exist for them (404)."""

import json

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.template.loader import select_template
from django.views.decorators.http import require_GET, require_POST

from channels_app.models import ChannelKind, Conversation, CustomerMerge, channel_display_name
from channels_app.selectors import (
    channel_template_for,
    channel_template_list,
    customer_by_address,
    customer_conversation_history,
    message_list,
)
from channels_app.services.customers import (
    customer_merge,
    customer_merge_undo,
    customer_profile_update,
)
from routing.canned import canned_fill, canned_responses_for_agent, canned_values
from routing.desktop.readable import readable_for_agent
from routing.desktop.selectors import conversation_for_agent, desktop_agent
from tenants.middleware import SESSION_KEY


def _agent(request):
    agent = desktop_agent(user=request.user, chosen_tenant_id=request.session.get(SESSION_KEY))
    if agent is None:
        raise Http404("Not an agent in this tenant.")
    return agent


def _error(reason: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": reason}, status=status)


def _reason(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(" ".join(m) for m in exc.message_dict.values())
    return " ".join(exc.messages)


def _body(request) -> dict:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise ValidationError("the request body must be JSON") from None
    if not isinstance(body, dict):
        raise ValidationError("the request body must be a JSON object")
    return body


def _labels(agent) -> dict[str, str]:
    return {t.kind: t.label for t in channel_template_list(tenant=agent.tenant)}


def _merges(customer) -> list[CustomerMerge]:
    return list(
        CustomerMerge.objects.filter(survivor=customer, undone_at__isnull=True)
        .select_related("by", "merged")
        .order_by("-at")[:10]
    )


@require_GET
@login_required
def customer_panel(request, conversation_id: int):
    agent = _agent(request)
    conversation = conversation_for_agent(agent=agent, conversation_id=conversation_id)
    customer = conversation.customer
    readable = readable_for_agent(agent=agent)
    labels = _labels(agent)
    history = []
    for c in customer_conversation_history(customer_id=customer.pk, tenant_id=agent.tenant_id):
        history.append(
            {
                "id": c.pk,
                "current": c.pk == conversation.pk,
                "channel": labels.get(c.kind) or channel_display_name(c.kind),
                "kind": c.kind,
                "address": c.identity.address,
                "opened": readable.datetime(c.opened_at),
                "status": c.get_status_display(),
                "messages": c.message_count,
                "last_text": (c.last_text or "")[:80],
            }
        )
    return render(
        request,
        "desktop/_customer_panel.html",
        {
            "conversation": conversation,
            "customer": customer,
            "identities": [
                {
                    "channel": labels.get(i.kind) or channel_display_name(i.kind),
                    "address": i.address,
                }
                for i in customer.identities.order_by("kind", "pk")
            ],
            "history": history,
            "merges": _merges(customer),
            "kinds": ChannelKind.choices,
        },
    )


@require_POST
@login_required
def customer_update(request, conversation_id: int):
    """JSON {display_name?, notes?, tags?}: the profile of the customer being served."""
    agent = _agent(request)
    conversation = conversation_for_agent(agent=agent, conversation_id=conversation_id)
    try:
        body = _body(request)
        unknown = set(body) - {"display_name", "notes", "tags"}
        if unknown:
            raise ValidationError(f"unknown fields: {', '.join(sorted(unknown))}")
        customer = customer_profile_update(
            customer=conversation.customer,
            display_name=body.get("display_name"),
            notes=body.get("notes"),
            tags=body.get("tags"),
        )
    except ValidationError as exc:
        return _error(_reason(exc))
    return JsonResponse(
        {
            "id": customer.pk,
            "display_name": customer.display_name,
            "notes": customer.notes,
            "tags": customer.tags,
        }
    )


@require_GET
@login_required
def history_transcript(request, conversation_id: int, other_id: int):
    """An earlier (or parallel) conversation of the customer being served, read-only."""
    agent = _agent(request)
    conversation = conversation_for_agent(agent=agent, conversation_id=conversation_id)
    other = (
        Conversation.objects.select_related("identity", "owner")
        .filter(pk=other_id, tenant_id=agent.tenant_id, customer_id=conversation.customer_id)
        .first()
    )
    if other is None:
        raise Http404("No such conversation of this customer.")
    channel = channel_template_for(tenant=agent.tenant, kind=other.kind)
    messages = list(message_list(conversation=other))
    for message in messages:
        content_type = message.content_type if channel.renders(message.content_type) else "text"
        message.template_name = select_template(
            [
                f"desktop/messages/{other.kind}/{content_type}.html",
                f"desktop/messages/{content_type}.html",
                "desktop/messages/text.html",
            ]
        ).template.name
    readable = readable_for_agent(agent=agent)
    return render(
        request,
        "desktop/_history_transcript.html",
        {
            "other": other,
            "channel": channel.label or other.get_kind_display(),
            "opened": readable.datetime(other.opened_at),
            "closed": readable.datetime(other.closed_at) if other.closed_at else "",
            "messages": messages,
            "no_previews": True,
        },
    )


@require_POST
@login_required
def customer_link(request, conversation_id: int):
    """JSON {address, kind?}: the record holding that exact address is merged into the customer
    being served. Only an exact address finds a record: the desktop does not browse customers."""
    agent = _agent(request)
    conversation = conversation_for_agent(agent=agent, conversation_id=conversation_id)
    try:
        body = _body(request)
    except ValidationError as exc:
        return _error(_reason(exc))
    address, kind = body.get("address"), body.get("kind") or ""
    if not isinstance(address, str) or not address.strip() or len(address) > 255:
        return _error("give the other record's exact address (a number, an email, an id)")
    if not isinstance(kind, str) or (kind and kind not in ChannelKind.values):
        return _error("kind is one of: " + ", ".join(ChannelKind.values))
    other = customer_by_address(tenant_id=agent.tenant_id, address=address, kind=kind)
    if other is None:
        return _error(
            "no single customer record has this address; check it or name the channel", 404
        )
    try:
        merge = customer_merge(survivor=conversation.customer, merged=other, by=request.user)
    except ValidationError as exc:
        return _error(_reason(exc))
    return JsonResponse(
        {
            "merge_id": merge.pk,
            "identities": len(merge.identity_ids),
            "conversations": len(merge.conversation_ids),
        },
        status=201,
    )


@require_POST
@login_required
def customer_link_undo(request, conversation_id: int, merge_id: int):
    """Undoes a merge into the customer being served."""
    agent = _agent(request)
    conversation = conversation_for_agent(agent=agent, conversation_id=conversation_id)
    merge = CustomerMerge.objects.filter(
        pk=merge_id, tenant_id=agent.tenant_id, survivor_id=conversation.customer_id
    ).first()
    if merge is None:
        raise Http404("No such merge of this customer.")
    try:
        customer_merge_undo(merge=merge, by=request.user)
    except ValidationError as exc:
        return _error(_reason(exc))
    return JsonResponse({"merge_id": merge.pk, "undone": True})


@require_GET
@login_required
def canned_responses(request, conversation_id: int):
    """The responses this agent may use, their text filled for this conversation."""
    agent = _agent(request)
    conversation = conversation_for_agent(agent=agent, conversation_id=conversation_id)
    values = canned_values(conversation=conversation, agent=agent)
    return JsonResponse(
        {
            "responses": [
                {
                    "id": r.pk,
                    "shortcut": r.shortcut,
                    "title": r.title,
                    "team": r.team.name if r.team_id else "",
                    "text": canned_fill(r.text, values),
                }
                for r in canned_responses_for_agent(agent=agent).select_related("team")
            ]
        }
    )
