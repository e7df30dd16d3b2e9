"""Care console: transcript search and reports on 1,000 and on 100,000 conversations.

Each size lives in a benchmark tenant of its own, generated once (kept between runs) by
care_console.demo.history_generate: closed conversations over the last 7 days, 3 messages each,
a routing timeline each (queued, offered, sometimes RONA, accepted, closed). Every query is what
the console's page or JSON endpoint runs (search: the result count plus the first page of 50),
timed as the median of --repeat runs after one warm-up, for a tenant admin (whole tenant) and a
supervisor scoped to one team and one queue.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_care \
        .venv/bin/python bench/care_console.py [--sizes 1000 100000] [--repeat 5]
"""

import argparse
import json
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

from routing_setup import ROOT, django_setup

# This file shares its name with the care_console app: import the app, not this script.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

SEARCHES = {
    "full text, rare (an order number)": {"text": "{order}"},
    "full text, common word": {"text": "Rechnung"},
    "customer name": {"customer": "Yilmaz"},
    "closed + wrap-up + variable": {
        "status": "closed",
        "wrap_up_code": "Follow-up needed",
        "variable": "segment",
        "value": "gold",
    },
    "queue + date range": {"queue": "{queue}", "date_from": "{day}", "date_to": "{day}"},
}
REPORTS = (
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


def tenant_for(size: int):
    from django.db import connection

    from care_console.demo import history_generate
    from channels_app.models import ChannelAsset, Conversation
    from routing.models import Queue
    from tenants import services
    from tenants.models import Agent, MultimediaProfile, Site, Team, Tenant, User

    slug = f"bench-care-{size}"
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant and Conversation.objects.filter(tenant=tenant).count() == size:
        return tenant
    if tenant:
        sys.exit(f"{slug} exists with another size; drop the database and run again")
    tenant = services.tenant_create(name=slug, slug=slug)
    profile = MultimediaProfile.objects.create(tenant=tenant, name="p", max_chat=5)
    site = Site.objects.create(tenant=tenant, name="s", multimedia_profile=profile)
    teams = [Team.objects.create(tenant=tenant, site=site, name=f"Team {i}") for i in range(4)]
    for i in range(40):
        user = User.objects.create_user(email=f"agent{i}@{slug}.test")
        Agent.objects.create(
            tenant=tenant,
            user=user,
            team=teams[i % 4],
            site=site,
            multimedia_profile=profile,
            display_name=f"Agent {i}",
        )
    for kind, media in (("whatsapp", "social"), ("sms", "social"), ("chat", "chat")):
        ChannelAsset.objects.create(tenant=tenant, kind=kind, name=kind)
    for i in range(4):
        queue = Queue.objects.create(
            tenant=tenant, name=f"Queue {i}", channel_type="social" if i < 3 else "chat"
        )
        queue.teams.set([teams[i]])
    started = time.perf_counter()
    history_generate(tenant=tenant, count=size, seed=size)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"  generated {size:,} conversations in {time.perf_counter() - started:.1f} s")
    return tenant


def timed(fn, repeat: int) -> float:
    fn()
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs)


def measure(tenant, repeat: int) -> dict[str, float]:
    from django.utils import timezone

    from care_console.access import CareScope
    from care_console.forms import ReportForm, TranscriptSearchForm
    from care_console.reports import report, reportable_variables
    from care_console.selectors import conversation_search_page
    from channels_app.models import Message
    from routing.flows.models import GlobalVariable
    from routing.models import Queue
    from tenants.models import Team

    for name, type_ in (("segment", "string"), ("order_total", "number")):
        GlobalVariable.objects.get_or_create(
            tenant=tenant, name=name, defaults={"type": type_, "reportable": True}
        )
    queue = Queue.objects.filter(tenant=tenant).order_by("pk").first()
    team = Team.objects.filter(tenant=tenant).order_by("pk").first()
    scopes = {
        "admin": CareScope(tenant=tenant, user_id=0, everything=True, can_change=True),
        "supervisor": CareScope(
            tenant=tenant,
            user_id=0,
            everything=False,
            can_change=True,
            team_ids=frozenset([team.pk]),
            queue_ids=frozenset([queue.pk]),
        ),
    }
    sample = Message.objects.filter(tenant=tenant, text__startswith="Rechnung ").first()
    order = sample.text.split()[1] if sample else "12345"
    day = (timezone.localdate() - timedelta(days=2)).isoformat()
    results: dict[str, float] = {}
    for who, scope in scopes.items():
        for label, params in SEARCHES.items():
            data = {k: v.format(order=order, queue=queue.pk, day=day) for k, v in params.items()}
            form = TranscriptSearchForm(data, scope=scope)
            assert form.is_valid(), form.errors

            def search(filters=form.cleaned_data, scope=scope):
                list(conversation_search_page(scope=scope, filters=filters))

            results[f"{who}: search {label}"] = timed(search, repeat)
        form = ReportForm(
            {"variable": "segment", "measure": "order_total"},
            reportable=reportable_variables(scope=scope),
        )
        assert form.is_valid(), form.errors
        for name in REPORTS:
            results[f"{who}: report {name}"] = timed(
                lambda name=name, scope=scope: report(
                    scope=scope, name=name, params=form.cleaned_data
                ),
                repeat,
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[1000, 100_000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    django_setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    small, large = args.sizes
    figures = {}
    for size in (small, large):
        tenant = tenant_for(size)
        figures[size] = measure(tenant, args.repeat)
    print(f"\n| query | {small:,} ms | {large:,} ms | ratio |")
    print("|---|---|---|---|")
    worst = 0.0
    for key in figures[small]:
        a, b = figures[small][key], figures[large][key]
        ratio = b / a if a else float("inf")
        worst = max(worst, ratio)
        print(f"| {key} | {a:.1f} | {b:.1f} | {ratio:.1f}x |")
    print(f"\nworst ratio: {worst:.1f}x")
    out = Path(ROOT) / "bench" / "results" / "care_console.json"
    out.write_text(json.dumps({"sizes": args.sizes, "figures": figures}, indent=2))


if __name__ == "__main__":
    main()
