"""Hourly report figures (an interval rollup): per tenant and hour, what the reports sum, so a
7-day report reads a few thousand small rows whatever the volume of conversations.

The fold is incremental: it remembers the last task event, task and conversation it has seen,
finds the hours the new ones touch (a task's queued, answered and closed hours, its
conversation's opened and closed hours, the moment of each new event) and recomputes those hours
from the source rows. The reports fold before they read, so they always include everything
committed before; a periodic job (care_console.tasks) folds too, to keep that step short.
Conversations closed without a task leave no task event, so the fold also re-reads the
conversations closed since the last fold (less a margin for transactions still running)."""

import json
import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from care_console.models import (
    AgentHour,
    ConversationHour,
    ReportRollupState,
    TaskHour,
    VariableHour,
)
from channels_app.models import Conversation
from routing.flows.models import GlobalVariable
from routing.models import Task, TaskEvent, TaskEventKind, TaskStatus
from tenants.models import Tenant

WAIT_EDGES = (10, 30, 60, 120, 300, 900)
HANDLE_EDGES = (60, 300, 900, 1800, 3600)
MARGIN = timedelta(minutes=10)
NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _spans(hours: set[datetime]) -> list[tuple[datetime, datetime]]:
    """Contiguous [start, end) ranges covering the hours."""
    spans: list[list[datetime]] = []
    for hour in sorted(hours):
        if spans and spans[-1][1] == hour:
            spans[-1][1] = hour + timedelta(hours=1)
        else:
            spans.append([hour, hour + timedelta(hours=1)])
    return [(a, b) for a, b in spans]


def _within(fields: Iterable[str], spans: list[tuple[datetime, datetime]]) -> Q:
    match = Q(pk__in=[])
    for field in fields:
        for start, end in spans:
            match |= Q(**{f"{field}__gte": start, f"{field}__lt": end})
    return match


def _moments(rows: Iterable[tuple[Any, ...]]) -> set[datetime]:
    return {_hour(m) for row in rows for m in row if m is not None}


@transaction.atomic
def report_rollup_fold(*, tenant: Tenant) -> None:
    """Brings the tenant's hourly figures up to date with its tasks and conversations."""
    ReportRollupState.objects.get_or_create(tenant=tenant)
    state = ReportRollupState.objects.select_for_update().get(tenant=tenant)
    now = timezone.now()
    tasks = Task.objects.filter(tenant=tenant)
    conversations = Conversation.objects.filter(tenant=tenant)
    # The marks stay MARGIN behind: rows of transactions still running when this fold reads
    # commit later with lower ids; the next folds read them again (refolding is idempotent).
    settled = now - MARGIN
    last = {
        "task_event_id": TaskEvent.objects.filter(tenant=tenant, at__lt=settled),
        "task_id": tasks.filter(enqueued_at__lt=settled),
        "conversation_id": conversations.filter(opened_at__lt=settled),
    }
    names = list(
        GlobalVariable.objects.filter(tenant=tenant, reportable=True)
        .order_by("name")
        .values_list("name", flat=True)
    )
    hours: set[datetime] | None = None
    # A variable made reportable (or no longer) changes every hour: fold everything again.
    if state.folded_at is not None and names == state.variables:
        events = list(
            TaskEvent.objects.filter(tenant=tenant, pk__gt=state.task_event_id).values_list(
                "task_id", "at"
            )
        )
        task_ids = {task_id for task_id, _at in events}
        task_ids |= set(tasks.filter(pk__gt=state.task_id).values_list("pk", flat=True))
        changed_tasks = list(
            tasks.filter(pk__in=task_ids).values_list(
                "conversation_id", "enqueued_at", "assigned_at", "closed_at"
            )
        )
        hours = _moments(row[1:] for row in changed_tasks)
        # Three reads rather than one with OR, so each is served by its own index.
        for changed in (
            conversations.filter(pk__gt=state.conversation_id),
            conversations.filter(pk__in={row[0] for row in changed_tasks}),
            conversations.filter(closed_at__gte=state.folded_at - MARGIN, closed_at__lte=now),
        ):
            hours |= _moments(changed.values_list("opened_at", "closed_at"))
        hours |= _moments((at,) for _task_id, at in events)
    if hours != set():
        _task_hours_rebuild(tenant=tenant, hours=hours)
        _agent_hours_rebuild(tenant=tenant, hours=hours)
        _conversation_hours_rebuild(tenant=tenant, hours=hours, names=names)
    for key, rows in last.items():
        mark = rows.filter(pk__gt=getattr(state, key)).aggregate(m=Max("pk"))["m"]
        setattr(state, key, max(mark or 0, getattr(state, key)))
    state.folded_at, state.variables = now, names
    state.save()


def report_rollups_fold() -> int:
    """Folds every tenant whose reports were read, so the fold a report runs first stays short
    however long nobody looked. Returns how many tenants it folded."""
    tenant_ids = list(ReportRollupState.objects.values_list("tenant_id", flat=True))
    for tenant in Tenant.objects.filter(pk__in=tenant_ids):
        report_rollup_fold(tenant=tenant)
    return len(tenant_ids)


def _task_hours_rebuild(*, tenant: Tenant, hours: set[datetime] | None) -> None:
    tasks = Task.objects.filter(tenant=tenant)
    rollup = TaskHour.objects.filter(tenant=tenant)
    if hours is not None:
        spans = _spans(hours)
        tasks = tasks.filter(_within(("enqueued_at", "assigned_at", "closed_at"), spans))
        rollup = rollup.filter(hour__in=hours)
    rollup.delete()
    figures: dict[tuple[datetime, int, int | None], dict[str, Any]] = {}

    def row(hour: datetime, queue_id: int, team_id: int | None) -> dict[str, Any]:
        return figures.setdefault(
            (hour, queue_id, team_id),
            {
                "contacts": 0,
                "service_level_counted": 0,
                "service_level_met": 0,
                "abandoned": 0,
                "waits": [0] * (len(WAIT_EDGES) + 1),
                "handles": [0] * (len(HANDLE_EDGES) + 1),
            },
        )

    for t in tasks.values(
        "queue_id",
        "agent__team_id",
        "status",
        "close_reason",
        "enqueued_at",
        "assigned_at",
        "closed_at",
        "queue__service_level_seconds",
    ).iterator(chunk_size=5000):
        queue_id, team_id = t["queue_id"], t["agent__team_id"]
        enqueued, assigned, closed = t["enqueued_at"], t["assigned_at"], t["closed_at"]
        hour = _hour(enqueued)
        if hours is None or hour in hours:
            moved = t["close_reason"] == "transferred"
            ended = t["status"] == TaskStatus.CLOSED and not moved
            figure = row(hour, queue_id, team_id)
            figure["contacts"] += 1
            figure["service_level_counted"] += assigned is not None or ended
            threshold = enqueued + timedelta(seconds=t["queue__service_level_seconds"])
            figure["service_level_met"] += assigned is not None and assigned <= threshold
            figure["abandoned"] += assigned is None and ended
        if assigned is not None and (hours is None or _hour(assigned) in hours):
            wait = (assigned - enqueued).total_seconds()
            row(_hour(assigned), queue_id, team_id)["waits"][bisect_right(WAIT_EDGES, wait)] += 1
        if (
            assigned is not None
            and closed is not None
            and (hours is None or _hour(closed) in hours)
        ):
            handle = (closed - assigned).total_seconds()
            figure = row(_hour(closed), queue_id, team_id)
            figure["handles"][bisect_right(HANDLE_EDGES, handle)] += 1
    TaskHour.objects.bulk_create(
        [
            TaskHour(tenant=tenant, hour=hour, queue_id=queue_id, team_id=team_id, **figure)
            for (hour, queue_id, team_id), figure in figures.items()
        ],
        batch_size=2000,
    )


def _agent_hours_rebuild(*, tenant: Tenant, hours: set[datetime] | None) -> None:
    ronas = TaskEvent.objects.filter(tenant=tenant, kind=TaskEventKind.RONA, agent__isnull=False)
    rollup = AgentHour.objects.filter(tenant=tenant)
    if hours is not None:
        ronas = ronas.filter(_within(("at",), _spans(hours)))
        rollup = rollup.filter(hour__in=hours)
    rollup.delete()
    counts: dict[tuple[datetime, int], int] = defaultdict(int)
    for agent_id, at in ronas.values_list("agent_id", "at").iterator(chunk_size=5000):
        counts[(_hour(at), agent_id)] += 1
    AgentHour.objects.bulk_create(
        [
            AgentHour(tenant=tenant, hour=hour, agent_id=agent_id, rona=n)
            for (hour, agent_id), n in counts.items()
        ],
        batch_size=2000,
    )


def _conversation_hours_rebuild(
    *, tenant: Tenant, hours: set[datetime] | None, names: list[str]
) -> None:
    conversations = Conversation.objects.filter(tenant=tenant)
    rollup = ConversationHour.objects.filter(tenant=tenant)
    variables = VariableHour.objects.filter(tenant=tenant)
    if hours is not None:
        conversations = conversations.filter(_within(("opened_at", "closed_at"), _spans(hours)))
        rollup = rollup.filter(hour__in=hours)
        variables = variables.filter(hour__in=hours)
    rollup.delete()
    variables.delete()
    found = list(
        conversations.values_list(
            "pk", "kind", "wrap_up_code", "owner__team_id", "opened_at", "closed_at", "variables"
        )
    )
    queues: dict[int, set[int]] = defaultdict(set)
    routed = Task.objects.filter(tenant=tenant)
    if hours is not None:
        routed = routed.filter(conversation_id__in=[c[0] for c in found])
    for conversation_id, queue_id in routed.values_list("conversation_id", "queue_id").iterator(
        chunk_size=5000
    ):
        queues[conversation_id].add(queue_id)
    figures: dict[tuple[datetime, str, str, int | None, str], dict[str, int]] = defaultdict(
        lambda: {"opened": 0, "closed": 0}
    )
    values: dict[tuple[datetime, int | None, str, str, str | None, str], list[float]] = defaultdict(
        lambda: [0, 0.0]
    )
    for pk, kind, code, team_id, opened, closed, variables in found:
        ids = sorted(queues.get(pk, ()))
        queue_key = f"|{'|'.join(map(str, ids))}|" if ids else ""
        if hours is None or _hour(opened) in hours:
            hour = _hour(opened)
            figures[(hour, kind, "", team_id, queue_key)]["opened"] += 1
            texts = {
                n: _text(variables.get(n)) if isinstance(variables, dict) else None for n in names
            }
            numbers = {
                n: float(t) for n, t in texts.items() if t is not None and NUMBER.fullmatch(t)
            }
            for name in names:
                values[(hour, team_id, queue_key, name, texts[name], "")][0] += 1
                for measure, number in numbers.items():
                    figure = values[(hour, team_id, queue_key, name, texts[name], measure)]
                    figure[0] += 1
                    figure[1] += number
        if closed is not None and code and (hours is None or _hour(closed) in hours):
            figures[(_hour(closed), "", code, team_id, queue_key)]["closed"] += 1
    ConversationHour.objects.bulk_create(
        [
            ConversationHour(
                tenant=tenant,
                hour=hour,
                kind=kind,
                wrap_up_code=code,
                team_id=team_id,
                queue_key=queue_key,
                **figure,
            )
            for (hour, kind, code, team_id, queue_key), figure in figures.items()
        ],
        batch_size=2000,
    )
    VariableHour.objects.bulk_create(
        [
            VariableHour(
                tenant=tenant,
                hour=hour,
                team_id=team_id,
                queue_key=queue_key,
                name=name,
                value=value,
                measure=measure,
                conversations=n,
                total=total,
            )
            for (hour, team_id, queue_key, name, value, measure), (n, total) in values.items()
        ],
        batch_size=2000,
    )


def _text(value: Any) -> str | None:
    """A variable's value as PostgreSQL's ->> spells it (what the report groups by)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)
