"""What the agent desktop reads: one snapshot of everything it shows, re-read on every (re)connect."""

from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone

from channels_app.models import Conversation, Direction, Message, channel_display_name
from channels_app.selectors import channel_template_list, message_list
from routing.selectors import agent_pending_offers, agent_state_get
from routing.services.tasks import offer_payloads
from tenants.models import Agent, IdleCode, Tenant, User, WrapUpCode
from tenants.selectors import agent_for_user, tenant_current


def desktop_agent(*, user: User, chosen_tenant_id: int | None) -> Agent | None:
    """The agent the signed-in user works as, in the tenant they chose (or their first one)."""
    if not user.is_authenticated:
        return None
    tenant: Tenant | None = tenant_current(user=user, chosen_id=chosen_tenant_id)
    return agent_for_user(user=user, tenant=tenant) or agent_for_user(user=user)


def owned_conversations(*, agent: Agent) -> QuerySet[Conversation]:
    last_text = (
        Message.objects.filter(conversation_id=OuterRef("pk"))
        .order_by("-created_at", "-id")
        .values("text")[:1]
    )
    return (
        Conversation.objects.filter(owner=agent, status=Conversation.Status.OPEN)
        .select_related("customer")
        .annotate(
            unread=Count(
                "messages",
                filter=Q(messages__direction=Direction.INBOUND, messages__seen_at__isnull=True),
            ),
            preview=Subquery(last_text),
        )
        .order_by("-last_message_at")
    )


def conversation_for_agent(*, agent: Agent, conversation_id: int | str) -> Conversation:
    """An open conversation the agent owns; anything else does not exist for them."""
    if not str(conversation_id).isdigit():
        raise Http404("No such conversation.")
    conversation = (
        Conversation.objects.select_related("customer", "asset", "identity")
        .filter(pk=int(conversation_id), owner=agent, tenant_id=agent.tenant_id)
        .first()
    )
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


def conversation_messages(*, conversation: Conversation) -> list[Message]:
    return list(message_list(conversation=conversation).prefetch_related("attachments"))


def desktop_snapshot(*, agent: Agent) -> dict[str, Any]:
    state = agent_state_get(agent=agent)
    offers = list(agent_pending_offers(agent=agent))
    # Channel names as the tenant's channel templates give them.
    labels = {t.kind: t.label for t in channel_template_list(tenant=agent.tenant)}
    payloads = offer_payloads(offers)
    return {
        "server_time": timezone.now().isoformat(),
        "agent": {"id": agent.pk, "name": str(agent), "tenant": agent.tenant.name},
        "state": {
            "state": state.state,
            "idle_code_id": state.idle_code_id,
            "since": state.state_since.isoformat(),
        },
        "idle_codes": list(IdleCode.objects.filter(tenant_id=agent.tenant_id).values("id", "name")),
        "wrap_up_codes": list(
            WrapUpCode.objects.filter(tenant_id=agent.tenant_id).values("id", "name")
        ),
        "offers": [payloads[o.pk] for o in offers],
        "conversations": [
            {
                "id": c.pk,
                "kind": c.kind,
                "kind_label": labels.get(c.kind) or channel_display_name(c.kind),
                "customer_name": str(c.customer),
                "unread": c.unread,
                "preview": (c.preview or "")[:120],
                "last_message_at": c.last_message_at.isoformat(),
            }
            for c in owned_conversations(agent=agent)
        ],
    }
