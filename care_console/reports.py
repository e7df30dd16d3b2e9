"""Report figures, computed in SQL from the conversations and the routing timeline.

Every report is a table (columns, rows); the first column labels the chart's x axis and each
further column is one data series, so the page draws it and the CSV download is the same table.
"""

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import (
    Avg,
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, TruncDay, TruncHour
from django.utils import timezone

from care_console.access import CareScope
from care_console.models import (
    AgentHour,
    ConversationHour,
    ReportRollupState,
    TaskHour,
    VariableHour,
)
from care_console.rollup import HANDLE_EDGES, WAIT_EDGES, report_rollup_fold
from routing.flows.models import GlobalVariable
from routing.models import Queue, Task, TaskEvent, TaskEventKind, TaskStatus


def _range(date_from: date, date_to: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(date_from, time.min))
    end = timezone.make_aware(datetime.combine(date_to + timedelta(days=1), time.min))
    return start, end


def _labels(edges: tuple[int, ...]) -> list[str]:
    def fmt(s: int) -> str:
        return f"{s // 60} min" if s >= 60 else f"{s} s"

    labels = [f"under {fmt(edges[0])}"]
    labels += [f"{fmt(a)}–{fmt(b)}" for a, b in zip(edges, edges[1:], strict=False)]
    labels.append(f"{fmt(edges[-1])} or more")
    return labels


def _distribution(tasks: QuerySet[Task], duration, edges: tuple[int, ...]) -> list[int]:
    tasks = tasks.annotate(d=ExpressionWrapper(duration, output_field=DurationField()))
    bounds = [None, *edges, None]
    aggregates = {}
    for i in range(len(bounds) - 1):
        low, high = bounds[i], bounds[i + 1]
        cond = Q()
        if low is not None:
            cond &= Q(d__gte=timedelta(seconds=low))
        if high is not None:
            cond &= Q(d__lt=timedelta(seconds=high))
        aggregates[f"b{i}"] = Count("pk", filter=cond)
    figures = tasks.aggregate(**aggregates)
    return [figures[f"b{i}"] for i in range(len(bounds) - 1)]


def _bucket_label(moment: datetime, bucket: str) -> str:
    local = timezone.localtime(moment)
    return local.strftime("%Y-%m-%d %H:00") if bucket == "hour" else local.strftime("%Y-%m-%d")


def _pivot(rows, bucket: str, series: list[str]) -> tuple[list[str], list[list[Any]]]:
    table: dict[str, dict[str, int]] = {}
    for moment, key, n in rows:
        table.setdefault(_bucket_label(moment, bucket), {})[key] = n
    return ["period", *series], [
        [label] + [table[label].get(s, 0) for s in series] for label in sorted(table)
    ]


def scoped_tasks(scope: CareScope) -> QuerySet[Task]:
    tasks = Task.objects.filter(tenant=scope.tenant)
    if scope.everything:
        return tasks
    return tasks.filter(
        Q(queue_id__in=list(scope.queue_ids)) | Q(agent__team_id__in=list(scope.team_ids))
    )


def reportable_variables(*, scope: CareScope) -> list[tuple[str, str]]:
    """(name, type) of the tenant's reportable global variables."""
    return list(
        GlobalVariable.objects.filter(tenant=scope.tenant, reportable=True)
        .order_by("name")
        .values_list("name", "type")
    )


REPORTS = {
    "contacts_per_channel": "Contacts per channel",
    "contacts_per_queue": "Contacts per queue",
    "wait_time": "Wait time (answered contacts)",
    "handle_time": "Handle time (closed contacts)",
    "service_level": "Service level per queue",
    "abandonment": "Abandoned while waiting, per queue",
    "rona_per_agent": "RONA per agent",
    "wrap_up_codes": "Wrap-up codes",
    "custom": "Custom report",
}


ROLLED_UP = (
    "contacts_per_channel",
    "contacts_per_queue",
    "wait_time",
    "handle_time",
    "service_level",
    "abandonment",
    "rona_per_agent",
    "wrap_up_codes",
    "custom",
)


def report(*, scope: CareScope, name: str, params: dict[str, Any]) -> dict[str, Any]:
    """The report's table; the routing and conversation figures come from the hourly rollup,
    brought up to date first."""
    if name not in ROLLED_UP:
        return report_from_source(scope=scope, name=name, params=params)
    report_rollup_fold(tenant=scope.tenant)
    start, end = _range(params["date_from"], params["date_to"])
    bucket = params["bucket"]
    columns: list[str]
    rows: list[list[Any]]
    if name == "custom":
        return _custom_report(scope=scope, start=start, end=end, params=params)
    if name == "rona_per_agent":
        data = (
            AgentHour.objects.filter(
                tenant=scope.tenant, hour__gte=start, hour__lt=end, agent__in=scope.agents()
            )
            .values("agent__display_name", "agent__user__email")
            .annotate(n=Sum("rona"))
            .order_by("-n", "agent__display_name")
        )
        rows = [[r["agent__display_name"] or r["agent__user__email"], r["n"]] for r in data]
        return {"name": name, "title": REPORTS[name], "columns": ["agent", "RONA"], "rows": rows}
    if name in ("contacts_per_channel", "wrap_up_codes"):
        hours = ConversationHour.objects.filter(
            tenant=scope.tenant, hour__gte=start, hour__lt=end
        ).filter(_conversation_scope(scope))
        if name == "contacts_per_channel":
            per: dict[tuple[str, str], int] = defaultdict(int)
            for hour, kind, n in hours.filter(opened__gt=0).values_list("hour", "kind", "opened"):
                per[(_bucket_label(hour, bucket), kind)] += n
            columns, rows = _pivot_labels(per)
        else:
            codes: dict[str, int] = defaultdict(int)
            for code, n in hours.filter(closed__gt=0).values_list("wrap_up_code", "closed"):
                codes[code] += n
            columns = ["wrap-up code", "conversations"]
            rows = [[c, n] for c, n in sorted(codes.items(), key=lambda cn: (-cn[1], cn[0]))]
        return {"name": name, "title": REPORTS[name], "columns": columns, "rows": rows}
    hours = TaskHour.objects.filter(tenant=scope.tenant, hour__gte=start, hour__lt=end)
    if not scope.everything:
        hours = hours.filter(
            Q(queue_id__in=list(scope.queue_ids)) | Q(team_id__in=list(scope.team_ids))
        )
    figures = list(
        hours.values_list(
            "hour",
            "queue_id",
            "contacts",
            "service_level_counted",
            "service_level_met",
            "abandoned",
            "waits",
            "handles",
        )
    )
    queues = {
        q.pk: q
        for q in Queue.objects.filter(pk__in={f[1] for f in figures if f[2]}).only(
            "name", "service_level_target_percent"
        )
    }
    if name == "contacts_per_queue":
        per = defaultdict(int)
        for hour, queue_id, contacts, *_rest in figures:
            if contacts:
                per[(_bucket_label(hour, bucket), queue_id)] += contacts
        named = {(label, queues[q].name): n for (label, q), n in per.items()}
        columns, rows = _pivot_labels(named)
    elif name in ("wait_time", "handle_time"):
        edges = WAIT_EDGES if name == "wait_time" else HANDLE_EDGES
        counts = [0] * (len(edges) + 1)
        for figure in figures:
            for i, n in enumerate(figure[6 if name == "wait_time" else 7]):
                counts[i] += n
        columns = ["wait", "contacts"] if name == "wait_time" else ["handle time", "contacts"]
        rows = [list(r) for r in zip(_labels(edges), counts, strict=True)]
    else:
        per_queue: dict[int, list[int]] = {}
        for _hour, queue_id, contacts, counted, met, abandoned, _w, _h in figures:
            if contacts:
                total = per_queue.setdefault(queue_id, [0, 0, 0, 0])
                for i, n in enumerate((contacts, counted, met, abandoned)):
                    total[i] += n
        ordered = sorted(per_queue.items(), key=lambda qt: queues[qt[0]].name)
        if name == "service_level":
            columns = ["queue", "service level %", "target %"]
            rows = [
                [
                    queues[q].name,
                    round(100 * met / counted, 1) if counted else None,
                    queues[q].service_level_target_percent,
                ]
                for q, (_contacts, counted, met, _abandoned) in ordered
            ]
        else:
            columns = ["queue", "abandoned", "contacts"]
            rows = [
                [queues[q].name, abandoned, contacts]
                for q, (contacts, _counted, _met, abandoned) in ordered
            ]
    return {"name": name, "title": REPORTS[name], "columns": columns, "rows": rows}


def _conversation_scope(scope: CareScope) -> Q:
    """Rollup rows of conversations owned by a granted team or routed through a granted queue."""
    if scope.everything:
        return Q()
    routed = Q(pk__in=[])
    for queue_id in scope.queue_ids:
        routed |= Q(queue_key__contains=f"|{queue_id}|")
    return Q(team_id__in=list(scope.team_ids)) | routed


def _custom_report(
    *, scope: CareScope, start: datetime, end: datetime, params: dict[str, Any]
) -> dict[str, Any]:
    variable, measure = params.get("variable"), params.get("measure") or ""
    if not variable:
        return {"name": "custom", "title": REPORTS["custom"], "columns": [], "rows": []}
    folded = ReportRollupState.objects.get(tenant=scope.tenant).variables
    if variable not in folded or (measure and measure not in folded):
        return report_from_source(scope=scope, name="custom", params=params)
    data = (
        VariableHour.objects.filter(
            tenant=scope.tenant, name=variable, measure=measure, hour__gte=start, hour__lt=end
        )
        .filter(_conversation_scope(scope))
        .values("value")
        .annotate(n=Sum("conversations"), total=Sum("total"))
        .order_by("value")
    )
    columns = [variable, "conversations"]
    if measure:
        columns += [f"sum of {measure}", f"average {measure}"]
    rows = []
    for r in data:
        row = [r["value"] if r["value"] is not None else "(not set)", r["n"]]
        if measure:
            row += [_num(r["total"]), _num(r["total"] / r["n"]) if r["n"] else None]
        rows.append(row)
    return {"name": "custom", "title": REPORTS["custom"], "columns": columns, "rows": rows}


def _pivot_labels(per: dict[tuple[str, str], int]) -> tuple[list[str], list[list[Any]]]:
    series = sorted({key for _label, key in per})
    labels = sorted({label for label, _key in per})
    return ["period", *series], [
        [label] + [per.get((label, s), 0) for s in series] for label in labels
    ]


def report_from_source(*, scope: CareScope, name: str, params: dict[str, Any]) -> dict[str, Any]:
    """The report computed from the tasks, conversations and timeline themselves: the truth the
    hourly rollup is checked against, and the custom report on a variable not folded yet."""
    start, end = _range(params["date_from"], params["date_to"])
    bucket = params["bucket"]
    trunc = TruncHour if bucket == "hour" else TruncDay
    tz = timezone.get_current_timezone()
    tasks = scoped_tasks(scope)
    columns: list[str]
    rows: list[list[Any]]
    if name == "contacts_per_channel":
        data = (
            scope.conversations()
            .filter(opened_at__gte=start, opened_at__lt=end)
            .annotate(p=trunc("opened_at", tzinfo=tz))
            .values_list("p", "kind")
            .annotate(n=Count("pk"))
            .order_by()
        )
        data = list(data)
        columns, rows = _pivot(data, bucket, sorted({k for _p, k, _n in data}))
    elif name == "contacts_per_queue":
        data = list(
            tasks.filter(enqueued_at__gte=start, enqueued_at__lt=end)
            .annotate(p=trunc("enqueued_at", tzinfo=tz))
            .values_list("p", "queue__name")
            .annotate(n=Count("pk"))
            .order_by()
        )
        columns, rows = _pivot(data, bucket, sorted({k for _p, k, _n in data}))
    elif name == "wait_time":
        answered = tasks.filter(assigned_at__gte=start, assigned_at__lt=end)
        counts = _distribution(answered, F("assigned_at") - F("enqueued_at"), WAIT_EDGES)
        columns, rows = ["wait", "contacts"], [list(r) for r in zip(_labels(WAIT_EDGES), counts)]
    elif name == "handle_time":
        handled = tasks.filter(assigned_at__isnull=False, closed_at__gte=start, closed_at__lt=end)
        counts = _distribution(handled, F("closed_at") - F("assigned_at"), HANDLE_EDGES)
        columns = ["handle time", "contacts"]
        rows = [list(r) for r in zip(_labels(HANDLE_EDGES), counts, strict=True)]
    elif name == "service_level":
        threshold = ExpressionWrapper(
            F("enqueued_at") + F("queue__service_level_seconds") * timedelta(seconds=1),
            output_field=DateTimeField(),
        )
        data = (
            tasks.filter(enqueued_at__gte=start, enqueued_at__lt=end)
            .values("queue__name", "queue__service_level_target_percent")
            .annotate(
                counted=Count(
                    "pk",
                    filter=Q(assigned_at__isnull=False)
                    | (Q(status=TaskStatus.CLOSED) & ~Q(close_reason="transferred")),
                ),
                met=Count("pk", filter=Q(assigned_at__isnull=False, assigned_at__lte=threshold)),
            )
            .order_by("queue__name")
        )
        columns = ["queue", "service level %", "target %"]
        rows = [
            [
                r["queue__name"],
                round(100 * r["met"] / r["counted"], 1) if r["counted"] else None,
                r["queue__service_level_target_percent"],
            ]
            for r in data
        ]
    elif name == "abandonment":
        data = (
            tasks.filter(enqueued_at__gte=start, enqueued_at__lt=end)
            .values("queue__name")
            .annotate(
                contacts=Count("pk"),
                abandoned=Count(
                    "pk",
                    filter=Q(status=TaskStatus.CLOSED, assigned_at__isnull=True)
                    & ~Q(close_reason="transferred"),
                ),
            )
            .order_by("queue__name")
        )
        columns = ["queue", "abandoned", "contacts"]
        rows = [[r["queue__name"], r["abandoned"], r["contacts"]] for r in data]
    elif name == "rona_per_agent":
        data = (
            TaskEvent.objects.filter(
                tenant=scope.tenant, kind=TaskEventKind.RONA, at__gte=start, at__lt=end
            )
            .filter(agent__in=scope.agents())
            .values("agent__display_name", "agent__user__email")
            .annotate(n=Count("pk"))
            .order_by("-n", "agent__display_name")
        )
        columns = ["agent", "RONA"]
        rows = [[r["agent__display_name"] or r["agent__user__email"], r["n"]] for r in data]
    elif name == "wrap_up_codes":
        data = (
            scope.conversations()
            .filter(closed_at__gte=start, closed_at__lt=end)
            .exclude(wrap_up_code="")
            .values("wrap_up_code")
            .annotate(n=Count("pk"))
            .order_by("-n", "wrap_up_code")
        )
        columns = ["wrap-up code", "conversations"]
        rows = [[r["wrap_up_code"], r["n"]] for r in data]
    elif name == "custom":
        variable, measure = params.get("variable"), params.get("measure")
        if not variable:
            return {"name": name, "title": REPORTS[name], "columns": [], "rows": []}
        conversations = (
            scope.conversations()
            .filter(opened_at__gte=start, opened_at__lt=end)
            .annotate(g=KeyTextTransform(variable, "variables"))
        )
        aggregates: dict[str, Any] = {"n": Count("pk")}
        columns = [variable, "conversations"]
        if measure:
            numeric = Cast(KeyTextTransform(measure, "variables"), FloatField())
            conversations = conversations.filter(
                **{f"variables__{measure}__regex": r"^-?[0-9]+(\.[0-9]+)?$"}
            )
            aggregates |= {"total": Sum(numeric), "average": Avg(numeric)}
            columns += [f"sum of {measure}", f"average {measure}"]
        data = conversations.values("g").annotate(**aggregates).order_by("g")
        rows = []
        for r in data:
            row = [r["g"] if r["g"] is not None else "(not set)", r["n"]]
            if measure:
                row += [_num(r["total"]), _num(r["average"])]
            rows.append(row)
    else:
        raise KeyError(name)
    return {"name": name, "title": REPORTS[name], "columns": columns, "rows": rows}


def _num(value) -> float | None:
    if value is None:
        return None
    return round(float(value), 2)
