"""Reads of the care console, always through a CareScope (tenant plus granted teams and queues)."""

import re
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import (
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Q,
    QuerySet,
)
from django.utils import timezone
from django.utils.functional import cached_property

from care_console.access import CareScope
from care_console.search import messages_matching
from channels_app.models import Attachment, Conversation, Customer, CustomerIdentity, Message
from channels_app.selectors import attachments_downloadable, message_list
from routing.flows.models import FlowRunStep
from routing.flows.selectors import flow_run_list
from routing.models import (
    AgentState,
    AgentStatus,
    ConversationNote,
    Offer,
    OfferStatus,
    Task,
    TaskEvent,
    TaskEventKind,
    TaskStatus,
)
from routing.selectors import conversation_timeline

MEDIA = ("chat", "email", "social")
CHART_MINUTES = 60
CHART_STEP_MINUTES = 5


def today_start(now: datetime | None = None) -> datetime:
    now = timezone.localtime(now or timezone.now())
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


# --- Live ---------------------------------------------------------------------------------------


def live_agents(*, scope: CareScope, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every agent of the visible teams; one who never set a state shows as signed out."""
    now = now or timezone.now()
    agents = list(
        scope.agents().select_related("team", "multimedia_profile").order_by("display_name", "pk")
    )
    ids = [a.pk for a in agents]
    states = {s.pk: s for s in AgentState.objects.filter(pk__in=ids).select_related("idle_code")}
    offers = dict(
        Offer.objects.filter(agent_id__in=ids, status=OfferStatus.PENDING)
        .values("agent_id")
        .annotate(n=Count("pk"))
        .values_list("agent_id", "n")
    )
    owned = dict(
        Conversation.objects.filter(owner_id__in=ids, status=Conversation.Status.OPEN)
        .values("owner_id")
        .annotate(n=Count("pk"))
        .values_list("owner_id", "n")
    )
    ronas = dict(
        TaskEvent.objects.filter(
            agent_id__in=ids, kind=TaskEventKind.RONA, at__gte=today_start(now)
        )
        .values("agent_id")
        .annotate(n=Count("pk"))
        .values_list("agent_id", "n")
    )
    rows = []
    for agent in agents:
        state = states.get(agent.pk)
        profile = agent.multimedia_profile
        since = state.state_since if state else None
        rows.append(
            {
                "id": agent.pk,
                "name": str(agent),
                "team": agent.team.name,
                "team_id": agent.team_id,
                "state": state.state if state else AgentStatus.SIGNED_OUT.value,
                "state_label": (state.get_state_display() if state else "Signed out"),
                "state_since": since.isoformat() if since else None,
                "seconds_in_state": int((now - since).total_seconds()) if since else None,
                "idle_code": state.idle_code.name if state and state.idle_code else "",
                "load": {
                    m: {
                        "engaged": getattr(state, f"engaged_{m}") if state else 0,
                        "maximum": profile.max_for(m),
                    }
                    for m in MEDIA
                },
                "offers": offers.get(agent.pk, 0),
                "conversations": owned.get(agent.pk, 0),
                "rona_today": ronas.get(agent.pk, 0),
            }
        )
    return rows


def _service_levels(*, queue_ids: list[int], since: datetime) -> dict[int, tuple[int, int]]:
    """queue id -> (met, counted) since then: contacts answered within the queue's threshold,
    over those answered plus those abandoned while waiting (moved ones do not count)."""
    threshold = ExpressionWrapper(
        F("enqueued_at") + F("queue__service_level_seconds") * timedelta(seconds=1),
        output_field=DateTimeField(),
    )
    answered = Q(assigned_at__isnull=False)
    abandoned = Q(assigned_at__isnull=True, status=TaskStatus.CLOSED) & ~Q(
        close_reason="transferred"
    )
    rows = (
        Task.objects.filter(queue_id__in=queue_ids, enqueued_at__gte=since)
        .values("queue_id")
        .annotate(
            counted=Count("pk", filter=answered | abandoned),
            met=Count("pk", filter=answered & Q(assigned_at__lte=threshold)),
        )
        .order_by()
    )
    return {r["queue_id"]: (r["met"], r["counted"]) for r in rows}


def live_queues(*, scope: CareScope, now: datetime | None = None) -> list[dict[str, Any]]:
    now = now or timezone.now()
    start = today_start(now)
    queues = list(scope.queues().order_by("name"))
    ids = [q.pk for q in queues]
    active = {
        row["queue_id"]: row
        for row in Task.objects.filter(
            queue_id__in=ids, status__in=(TaskStatus.WAITING, TaskStatus.OFFERED)
        )
        .values("queue_id")
        .annotate(
            waiting=Count("pk"),
            offered_now=Count("pk", filter=Q(status=TaskStatus.OFFERED)),
        )
    }
    oldest = dict(
        Task.objects.filter(queue_id__in=ids, status__in=(TaskStatus.WAITING, TaskStatus.OFFERED))
        .order_by()
        .values("queue_id")
        .annotate(first=Min("enqueued_at"))
        .values_list("queue_id", "first")
    )
    entered = dict(
        Task.objects.filter(queue_id__in=ids, queue_entered_at__gte=start)
        .values("queue_id")
        .annotate(n=Count("pk"))
        .values_list("queue_id", "n")
    )
    charts = waiting_history(queue_ids=ids, now=now)
    levels = _service_levels(queue_ids=ids, since=start)
    rows = []
    for queue in queues:
        met, counted = levels.get(queue.pk, (0, 0))
        first = oldest.get(queue.pk)
        rows.append(
            {
                "id": queue.pk,
                "name": queue.name,
                "channel_type": queue.channel_type,
                "waiting": active.get(queue.pk, {}).get("waiting", 0),
                "longest_wait_seconds": int((now - first).total_seconds()) if first else 0,
                "offered_today": entered.get(queue.pk, 0),
                "service_level": {
                    "met": met,
                    "counted": counted,
                    "percent": round(100 * met / counted, 1) if counted else None,
                    "target_percent": queue.service_level_target_percent,
                    "threshold_seconds": queue.service_level_seconds,
                },
                "waiting_last_hour": charts.get(queue.pk, []),
            }
        )
    return rows


def waiting_history(*, queue_ids: list[int], now: datetime) -> dict[int, list[int]]:
    """Waiting contacts per queue every five minutes over the last hour (oldest first)."""
    since = now - timedelta(minutes=CHART_MINUTES)
    points = [since + timedelta(minutes=m) for m in range(0, CHART_MINUTES + 1, CHART_STEP_MINUTES)]
    tasks = Task.objects.filter(queue_id__in=queue_ids, enqueued_at__lte=now).filter(
        Q(assigned_at__isnull=True) | Q(assigned_at__gt=since),
        Q(closed_at__isnull=True) | Q(closed_at__gt=since),
    )
    history = {q: [0] * len(points) for q in queue_ids}
    for queue_id, enqueued, assigned, closed in tasks.values_list(
        "queue_id", "enqueued_at", "assigned_at", "closed_at"
    ):
        for i, point in enumerate(points):
            if (
                enqueued <= point
                and not (assigned and assigned <= point)
                and not (closed and closed <= point)
            ):
                history[queue_id][i] += 1
    return history


def live_snapshot(*, scope: CareScope) -> dict[str, Any]:
    now = timezone.now()
    return {
        "server_time": now.isoformat(),
        "agents": live_agents(scope=scope, now=now),
        "queues": live_queues(scope=scope, now=now),
        "conversations": [
            {
                "id": c.pk,
                "customer": str(c.customer),
                "kind": c.get_kind_display(),
                "owner": str(c.owner) if c.owner else "",
                "last_message_at": c.last_message_at.isoformat(),
            }
            for c in scope.conversations()
            .filter(status=Conversation.Status.OPEN)
            .select_related("customer", "owner")
            .order_by("-last_message_at")[:50]
        ],
    }


# --- Transcripts --------------------------------------------------------------------------------

FEW_MATCHES = 2000
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def _json_values(value: str) -> list[Any]:
    """A typed search value matches its string form and, when it parses, its number or boolean."""
    values: list[Any] = [value]
    if value.lower() in ("true", "false"):
        values.append(value.lower() == "true")
    else:
        try:
            number = float(value)
        except ValueError:
            pass
        else:
            values.append(int(number) if number.is_integer() else number)
    return values


def _customer_match(*, tenant_id: int, text: str) -> Q:
    """Conversations of customers whose name or address contains the text. The customers and
    identities are matched first, on their own small tables (a trigram index on PostgreSQL), and
    the conversations by id: joining first made the planner match the text on every
    conversation's customer before it could walk the newest ones."""
    customers = Customer.objects.filter(tenant_id=tenant_id, display_name__icontains=text)
    identities = CustomerIdentity.objects.filter(tenant_id=tenant_id, address__icontains=text)
    customer_ids = list(customers.values_list("pk", flat=True)[: FEW_MATCHES + 1])
    identity_ids = list(identities.values_list("pk", flat=True)[: FEW_MATCHES + 1])
    by_customer = (
        Q(customer_id__in=customer_ids)
        if len(customer_ids) <= FEW_MATCHES
        else Q(customer_id__in=customers.values("pk"))
    )
    by_identity = (
        Q(identity_id__in=identity_ids)
        if len(identity_ids) <= FEW_MATCHES
        else Q(identity_id__in=identities.values("pk"))
    )
    return by_customer | by_identity


def conversation_search(*, scope: CareScope, filters: dict[str, Any]) -> QuerySet[Conversation]:
    """filters: the cleaned data of TranscriptSearchForm (empty values are ignored)."""
    conversations = scope.conversations()
    f = {k: v for k, v in filters.items() if v not in (None, "", [])}
    if "customer" in f:
        conversations = conversations.filter(
            _customer_match(tenant_id=scope.tenant.pk, text=f["customer"])
        )
    if "channel" in f:
        conversations = conversations.filter(kind=f["channel"])
    if "asset" in f:
        conversations = conversations.filter(asset_id=f["asset"].pk)
    if "queue" in f:
        conversations = conversations.filter(
            Exists(Task.objects.filter(conversation_id=OuterRef("pk"), queue_id=f["queue"].pk))
        )
    if "agent" in f:
        conversations = conversations.filter(
            Q(owner_id=f["agent"].pk)
            | Q(Exists(Task.objects.filter(conversation_id=OuterRef("pk"), agent_id=f["agent"].pk)))
        )
    if "team" in f:
        conversations = conversations.filter(owner__team_id=f["team"].pk)
    if "date_from" in f:
        conversations = conversations.filter(opened_at__gte=_day_start(f["date_from"]))
    if "date_to" in f:
        conversations = conversations.filter(
            opened_at__lt=_day_start(f["date_to"]) + timedelta(days=1)
        )
    if "status" in f:
        conversations = conversations.filter(status=f["status"])
    if "wrap_up_code" in f:
        conversations = conversations.filter(wrap_up_code=f["wrap_up_code"])
    if "variable" in f:
        name = f["variable"]
        if "value" in f:
            match = Q()
            for value in _json_values(f["value"]):
                match |= Q(**{f"variables__{name}": value})
            conversations = conversations.filter(match)
        else:
            conversations = conversations.filter(variables__has_key=name)
    if "text" in f:
        matching = messages_matching(tenant_id=scope.tenant.pk, text=f["text"]).values_list(
            "conversation_id", flat=True
        )
        # A rare term (an order number) matches few messages: read them off the GIN index first,
        # or the planner walks every conversation newest first testing each one's messages. A
        # common word keeps the subquery: walking newest first finds a page of matches quickly.
        few = list(matching[: FEW_MATCHES + 1])
        if len(few) <= FEW_MATCHES:
            conversations = conversations.filter(pk__in=set(few))
        else:
            conversations = conversations.filter(pk__in=matching)
    return conversations.select_related("customer", "identity", "asset", "owner").order_by(
        "-opened_at", "-pk"
    )


SEARCH_COUNT_CAP = 1000


class CappedPaginator(Paginator):
    """Counts at most SEARCH_COUNT_CAP + 1 results: a broad search over a large tenant answers as
    fast as a narrow one, and the page says "more than 1,000" instead of counting them all."""

    @cached_property
    def count(self) -> int:
        # Without the ordering the database stops at the cap instead of sorting every match.
        return self.object_list.order_by()[: SEARCH_COUNT_CAP + 1].count()

    @property
    def capped(self) -> bool:
        return self.count > SEARCH_COUNT_CAP


def conversation_search_page(
    *, scope: CareScope, filters: dict[str, Any], page: int | str | None = 1, per_page: int = 50
) -> Page:
    return CappedPaginator(conversation_search(scope=scope, filters=filters), per_page).get_page(
        page
    )


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def transcript(*, conversation: Conversation) -> dict[str, Any]:
    """Everything a transcript shows: messages with attachments, variables, routing timeline and
    the flow runs with their steps."""
    messages = list(message_list(conversation=conversation))
    runs = list(
        flow_run_list(tenant=conversation.tenant, conversation=conversation).order_by(
            "started_at", "pk"
        )
    )
    steps: dict[int, list[FlowRunStep]] = {run.pk: [] for run in runs}
    for step in FlowRunStep.objects.filter(run_id__in=list(steps)).order_by("run_id", "seq"):
        steps[step.run_id].append(step)
    for run in runs:
        run.step_list = steps[run.pk]
    return {
        "conversation": conversation,
        "messages": messages,
        "variables": sorted((conversation.variables or {}).items()),
        "timeline": list(conversation_timeline(conversation_id=conversation.pk)),
        "notes": list(
            ConversationNote.objects.filter(
                conversation=conversation, tenant_id=conversation.tenant_id
            )
        ),
        "flow_runs": runs,
    }


def attachment_for_scope(*, scope: CareScope, attachment_id: int) -> Attachment | None:
    """A file the scope may download: in its conversations, and scanned clean."""
    return (
        attachments_downloadable()
        .filter(
            pk=attachment_id,
            tenant_id=scope.tenant.pk,
            message__conversation__in=scope.conversations(),
        )
        .first()
    )


def message_count(*, conversation: Conversation) -> int:
    return Message.objects.filter(conversation=conversation).count()
