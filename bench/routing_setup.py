"""Shared set-up for the routing benchmarks: bulk-created agents, conversations and tasks.

Every benchmark runs against its own PostgreSQL database (DATABASE_URL, e.g. bench_routing) and
wipes the benchmark tenant it creates. Run from the repository root, see docs/perf-routing.md.
"""

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")


def django_setup() -> None:
    import django

    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit(
            "Set DATABASE_URL to a PostgreSQL database of its own, e.g. "
            "postgres://postgres@127.0.0.1:5432/bench_routing"
        )
    django.setup()


def tenants_wipe() -> None:
    """Deletes every benchmark tenant, so no left-over offers or tasks disturb the next run."""
    from tenants.models import Tenant

    for slug in Tenant.objects.filter(slug__startswith="bench-").values_list("slug", flat=True):
        tenant_reset(slug, create=False)


def tenant_reset(slug: str, *, rona_chat_seconds: int = 30, create: bool = True):
    """A fresh benchmark tenant (the previous one with this slug is deleted)."""
    from django.db import connection

    from channels_app.models import Conversation, Customer, CustomerIdentity
    from routing.models import AgentState, AgentStateChange, Offer, Queue, Task, TaskEvent
    from tenants.models import Agent, Tenant, TenantPolicy, User
    from tenants.services import tenant_create

    old = Tenant.objects.filter(slug=slug).first()
    if old is not None:
        for model in (TaskEvent, Offer, Task, AgentStateChange, AgentState):
            model.objects.filter(tenant=old).delete()
        Conversation.objects.filter(tenant=old).delete()
        CustomerIdentity.objects.filter(tenant=old).delete()
        Customer.objects.filter(tenant=old).delete()
        Queue.objects.filter(tenant=old).delete()
        user_ids = list(Agent.objects.filter(tenant=old).values_list("user_id", flat=True))
        Agent.objects.filter(tenant=old).delete()
        User.objects.filter(pk__in=user_ids).delete()
        from tenants.models import MultimediaProfile, Site, Team

        Team.objects.filter(tenant=old).delete()
        Site.objects.filter(tenant=old).delete()
        MultimediaProfile.objects.filter(tenant=old).delete()
        old.delete()
    if not create:
        return None
    tenant = tenant_create(name=f"Bench {slug}", slug=slug)
    TenantPolicy.objects.filter(tenant=tenant).update(rona_chat_seconds=rona_chat_seconds)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return tenant


def team_create(tenant, *, max_chat: int):
    from tenants.models import MultimediaProfile, Site, Team

    profile = MultimediaProfile.objects.create(
        tenant=tenant, name=f"Bench {max_chat}", max_chat=max_chat
    )
    site = Site.objects.create(tenant=tenant, name="Bench site", multimedia_profile=profile)
    return Team.objects.create(tenant=tenant, site=site, name="Bench team")


def agents_create(tenant, team, count: int, *, available: int | None = None) -> list[int]:
    """count agents; the first `available` of them (all by default) available, the rest signed out."""
    from datetime import timedelta

    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from routing.models import AgentState
    from tenants.models import Agent, User

    password = make_password(None)
    users = User.objects.bulk_create(
        [User(email=f"bench{i}@{tenant.slug}.test", password=password) for i in range(count)],
        batch_size=2000,
    )
    profile = team.site.multimedia_profile
    agents = Agent.objects.bulk_create(
        [
            Agent(
                tenant=tenant,
                user=u,
                team=team,
                site=team.site,
                multimedia_profile=profile,
                display_name=f"Agent {i}",
            )
            for i, u in enumerate(users)
        ],
        batch_size=2000,
    )
    available = count if available is None else available
    start = timezone.now() - timedelta(hours=1)
    AgentState.objects.bulk_create(
        [
            AgentState(
                agent=a,
                tenant=tenant,
                team=team,
                state="available" if i < available else "signed_out",
                available_since=start + timedelta(milliseconds=i),
                max_chat=profile.max_chat,
                max_email=profile.max_email,
                max_social=profile.max_social,
                blending=profile.blending,
            )
            for i, a in enumerate(agents)
        ],
        batch_size=2000,
    )
    return [a.pk for a in agents]


def tasks_create(tenant, queue, count: int, *, requirements: list[dict] | None = None) -> None:
    """count waiting tasks on fresh chat conversations, as task_enqueue stores them."""
    from datetime import timedelta

    from django.utils import timezone

    from channels_app.models import ChannelAsset, Conversation, Customer, CustomerIdentity
    from routing.models import Task
    from routing.services.skills import requirements_key, requirements_resolve

    asset = ChannelAsset.objects.filter(
        tenant=tenant, kind="chat"
    ).first() or ChannelAsset.objects.create(tenant=tenant, kind="chat", name="Bench chat")
    base = Customer.objects.filter(tenant=tenant).count()
    customers = Customer.objects.bulk_create(
        [Customer(tenant=tenant, display_name=f"Customer {base + i}") for i in range(count)],
        batch_size=2000,
    )
    identities = CustomerIdentity.objects.bulk_create(
        [
            CustomerIdentity(tenant=tenant, customer=c, kind="chat", address=f"visitor-{c.pk}")
            for c in customers
        ],
        batch_size=2000,
    )
    conversations = Conversation.objects.bulk_create(
        [
            Conversation(tenant=tenant, asset=asset, customer=c, identity=i, kind="chat")
            for c, i in zip(customers, identities, strict=True)
        ],
        batch_size=2000,
    )
    resolved = requirements_resolve(tenant=tenant, requirements=requirements or [])
    start = timezone.now() - timedelta(minutes=30)
    Task.objects.bulk_create(
        [
            Task(
                tenant=tenant,
                conversation=c,
                queue=queue,
                channel_type="chat",
                priority=1 + i % 10,
                enqueued_at=start + timedelta(milliseconds=i),
                queue_entered_at=start,
                requirements=resolved,
                current_requirements=resolved,
                requirements_key=requirements_key(resolved),
            )
            for i, c in enumerate(conversations)
        ],
        batch_size=2000,
    )


def analyze() -> None:
    """VACUUM ANALYZE after bulk set-up, so the measurement does not race autovacuum."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
