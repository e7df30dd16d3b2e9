"""What the agent desktop reads: one snapshot of everything it shows, re-read on every (re)connect.

A server restart reconnects every desktop at once, so connecting is cheap: the agent is one query
and the snapshot one more on PostgreSQL (two more when offers are pending)."""

import json
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone

from channels_app.models import (
    AuthorKind,
    Conversation,
    Direction,
    Message,
    channel_display_name,
)
from channels_app.selectors import channel_template_list, message_list
from routing.models import AgentStatus, Offer, OfferStatus
from routing.selectors import agent_pending_offers, agent_state_get
from routing.services.tasks import offer_payloads
from tenants.models import Agent, IdleCode, Tenant, User, WrapUpCode
from tenants.selectors import agent_for_user, tenant_current


def desktop_agent(*, user: User, chosen_tenant_id: int | None) -> Agent | None:
    """The agent the signed-in user works as, in the tenant they chose (or their first one).

    Most users are an agent in one tenant: that agent is the answer whichever tenant is chosen,
    so one query settles it; only a user with agents in several tenants needs the tenant."""
    if not user.is_authenticated:
        return None
    # Its own columns only: the snapshot reads the tenant's name itself, and the few actions
    # that need the team or profile load them when they run.
    agents = list(Agent.objects.filter(user_id=user.pk).order_by()[:2])
    if len(agents) < 2:
        if not agents:
            return None
        agent = agents[0]
        agent.user = user  # str(agent) falls back to the user's name
        return agent
    tenant: Tenant | None = tenant_current(user=user, chosen_id=chosen_tenant_id)
    return agent_for_user(user=user, tenant=tenant) or agent_for_user(user=user)


def owned_conversations(*, agent: Agent) -> QuerySet[Conversation]:
    # The customer's last words, and whether an agent answered since the customer last wrote.
    last_text = (
        Message.objects.filter(conversation_id=OuterRef("pk"), direction=Direction.INBOUND)
        .order_by("-created_at", "-id")
        .values("text")[:1]
    )
    answered = Message.objects.filter(
        conversation_id=OuterRef("pk"),
        author_kind=AuthorKind.AGENT,
        created_at__gte=OuterRef("last_inbound_at"),
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
            answered=Exists(answered),
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
    if connection.vendor == "postgresql":
        return _snapshot_sql(agent=agent)
    return _snapshot_portable(agent=agent)


# Everything the snapshot shows but the offers' cards, as JSON built by PostgreSQL in one statement.
SNAPSHOT_SQL = """
SELECT
  (SELECT t.name FROM tenants_tenant t WHERE t.id = %(tenant)s),
  (SELECT json_build_object('state', s.state, 'idle_code_id', s.idle_code_id,
                            'since', s.state_since)
     FROM routing_agentstate s WHERE s.agent_id = %(agent)s),
  (SELECT coalesce(json_agg(json_build_object('id', i.id, 'name', i.name) ORDER BY i.name, i.id),
                   '[]')
     FROM tenants_idlecode i WHERE i.tenant_id = %(tenant)s),
  (SELECT coalesce(json_agg(json_build_object('id', w.id, 'name', w.name) ORDER BY w.name, w.id),
                   '[]')
     FROM tenants_wrapupcode w WHERE w.tenant_id = %(tenant)s),
  (SELECT coalesce(json_agg(o.id ORDER BY o.created_at, o.id), '[]')
     FROM routing_offer o
    WHERE o.agent_id = %(agent)s AND o.status = %(pending)s AND o.expires_at > %(now)s),
  (SELECT coalesce(json_agg(json_build_object(
              'id', c.id, 'kind', c.kind,
              'customer_name', coalesce(nullif(cu.display_name, ''), 'Customer ' || cu.id),
              'unread', (SELECT count(*) FROM channels_app_message m
                          WHERE m.conversation_id = c.id AND m.direction = %(inbound)s
                            AND m.seen_at IS NULL),
              'preview', (SELECT m.text FROM channels_app_message m
                           WHERE m.conversation_id = c.id AND m.direction = %(inbound)s
                           ORDER BY m.created_at DESC, m.id DESC LIMIT 1),
              'waiting_since', CASE WHEN c.last_inbound_at IS NOT NULL AND NOT EXISTS (
                  SELECT 1 FROM channels_app_message m
                   WHERE m.conversation_id = c.id AND m.author_kind = %(agent_kind)s
                     AND m.created_at >= c.last_inbound_at) THEN c.last_inbound_at END,
              'last_message_at', c.last_message_at)
            ORDER BY c.last_message_at DESC), '[]')
     FROM channels_app_conversation c JOIN channels_app_customer cu ON cu.id = c.customer_id
    WHERE c.owner_id = %(agent)s AND c.status = %(open)s),
  (SELECT coalesce(json_object_agg(ct.kind, ct.label), '{}')
     FROM channels_app_channeltemplate ct WHERE ct.tenant_id = %(tenant)s)
"""


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _iso(value: str) -> str:
    """A timestamp as Python writes it (PostgreSQL trims the fraction's trailing zeros)."""
    return datetime.fromisoformat(value).isoformat()


def _snapshot_sql(*, agent: Agent) -> dict[str, Any]:
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            SNAPSHOT_SQL,
            {
                "agent": agent.pk,
                "tenant": agent.tenant_id,
                "now": now,
                "pending": OfferStatus.PENDING,
                "inbound": Direction.INBOUND,
                "agent_kind": AuthorKind.AGENT,
                "open": Conversation.Status.OPEN,
            },
        )
        tenant_name, *rest = cursor.fetchone()
        state, idle_codes, wrap_up_codes, offer_ids, conversations, labels = map(_json, rest)
    if state is None:  # never changed state: signed out, as agent_state_get's unsaved default
        state = {"state": AgentStatus.SIGNED_OUT, "idle_code_id": None, "since": now.isoformat()}
    else:
        state["since"] = _iso(state["since"])
    offers = []
    if offer_ids:
        pending = sorted(
            Offer.objects.filter(pk__in=offer_ids), key=lambda o: offer_ids.index(o.pk)
        )
        payloads = offer_payloads(pending)
        offers = [payloads[o.pk] for o in pending]
    for c in conversations:
        # Channel names as the tenant's channel templates give them (a default is the plain name).
        c["kind_label"] = labels.get(c["kind"]) or channel_display_name(c["kind"])
        c["preview"] = (c["preview"] or "")[:120]
        c["last_message_at"] = _iso(c["last_message_at"])
        c["waiting_since"] = _iso(c["waiting_since"]) if c["waiting_since"] else None
    return {
        "server_time": now.isoformat(),
        "agent": {"id": agent.pk, "name": str(agent), "tenant": tenant_name},
        "state": state,
        "idle_codes": idle_codes,
        "wrap_up_codes": wrap_up_codes,
        "offers": offers,
        "conversations": [
            {
                key: c[key]
                for key in (
                    "id",
                    "kind",
                    "kind_label",
                    "customer_name",
                    "unread",
                    "preview",
                    "waiting_since",
                    "last_message_at",
                )
            }
            for c in conversations
        ],
    }


def _snapshot_portable(*, agent: Agent) -> dict[str, Any]:
    """The same with the ORM (the embedded SQLite setup)."""
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
                "waiting_since": c.last_inbound_at.isoformat()
                if c.last_inbound_at and not c.answered
                else None,
                "last_message_at": c.last_message_at.isoformat(),
            }
            for c in owned_conversations(agent=agent)
        ],
    }


def transfer_targets(*, agent: Agent, conversation: Conversation) -> dict[str, Any]:
    """Where the agent may hand a conversation: colleagues of the tenant who are available with
    room for its media type, and the tenant's queues that take it."""
    from routing.models import AgentState, Queue, room_q

    media = conversation.media_type
    colleagues = (
        AgentState.objects.filter(tenant_id=agent.tenant_id, state=AgentStatus.AVAILABLE)
        .filter(room_q(media))
        .exclude(pk=agent.pk)
        .select_related("agent__user")
        .order_by("agent__display_name", "pk")[:200]
    )
    queues = Queue.objects.filter(tenant_id=agent.tenant_id, channel_type=media).order_by("name")
    return {
        "agents": [{"id": s.agent_id, "name": str(s.agent)} for s in colleagues],
        "queues": [{"id": q.pk, "name": q.name} for q in queues],
    }


LIST_FILTERS = ("mine", "open", "waiting", "closed_today")
LIST_PAGE_SIZE = 25


def conversation_list(
    *, agent: Agent, filter: str = "mine", q: str = "", page: int = 1
) -> dict[str, Any]:
    """The agent's conversations: the ones they own or were assigned before, in their tenant.

    mine: open and owned now; open: every open one of theirs (also those they handed on);
    waiting: owned, open, and the last message is ours (waiting on the customer); closed_today:
    closed since midnight in the server's time zone. q searches the customer's name and address
    and the messages' text."""
    from routing.models import Task

    if filter not in LIST_FILTERS:
        raise ValidationError({"filter": f"one of {', '.join(LIST_FILTERS)}"})
    if len(q) > 200:
        raise ValidationError({"q": "a search is at most 200 characters"})
    handled = Task.objects.filter(tenant_id=agent.tenant_id, agent_id=agent.pk).values(
        "conversation_id"
    )
    base = Conversation.objects.filter(tenant_id=agent.tenant_id)
    if filter == "mine":
        rows = base.filter(owner=agent, status=Conversation.Status.OPEN)
    elif filter == "waiting":
        last_direction = (
            Message.objects.filter(conversation_id=OuterRef("pk"))
            .order_by("-created_at", "-id")
            .values("direction")[:1]
        )
        rows = (
            base.filter(owner=agent, status=Conversation.Status.OPEN)
            .annotate(last_direction=Subquery(last_direction))
            .filter(last_direction=Direction.OUTBOUND)
        )
    else:
        mine_or_handled = Q(owner=agent) | Q(pk__in=handled)
        if filter == "open":
            rows = base.filter(mine_or_handled, status=Conversation.Status.OPEN)
        else:
            midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
            rows = base.filter(
                mine_or_handled, status=Conversation.Status.CLOSED, closed_at__gte=midnight
            )
    q = q.strip()
    if q:
        text_hit = Message.objects.filter(conversation_id=OuterRef("pk"), text__icontains=q)
        rows = rows.filter(
            Q(customer__display_name__icontains=q)
            | Q(identity__address__icontains=q)
            | Exists(text_hit)
        )
    total = rows.count()
    pages = max(1, -(-total // LIST_PAGE_SIZE))
    page = min(max(1, page), pages)
    last_text = (
        Message.objects.filter(conversation_id=OuterRef("pk"))
        .order_by("-created_at", "-id")
        .values("text")[:1]
    )
    chunk = (
        rows.select_related("customer", "identity")
        .annotate(preview=Subquery(last_text))
        .order_by("-last_message_at", "-pk")[(page - 1) * LIST_PAGE_SIZE : page * LIST_PAGE_SIZE]
    )
    return {
        "filter": filter,
        "q": q,
        "page": page,
        "pages": pages,
        "total": total,
        "conversations": [
            {
                "id": c.pk,
                "kind": c.kind,
                "kind_label": channel_display_name(c.kind),
                "customer_name": str(c.customer),
                "address": c.identity.address,
                "status": c.status,
                "mine": c.owner_id == agent.pk,
                "preview": (c.preview or "")[:120],
                "last_message_at": c.last_message_at.isoformat(),
            }
            for c in chunk
        ],
    }
