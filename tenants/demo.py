"""The demo tenant: an admin, a supervisor and two agents, with the agent setup they need.

Other apps add to the demo with a `demo.py` of their own exposing `seed(*, tenant, people)`;
the demo_seed command calls them in dependency order. Everything is idempotent.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from tenants import services
from tenants.models import (
    Agent,
    IdleCode,
    Membership,
    MultimediaProfile,
    Site,
    Team,
    Tenant,
    User,
    WrapUpCode,
)
from tenants.roles import AdminRole, CareProfile

DEMO_PASSWORD = "demo-pass-2026"


@dataclass
class DemoPeople:
    admin: User
    supervisor: User
    agents: list[Agent]


def _person(*, tenant: Tenant, email: str, name: str, **roles) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=DEMO_PASSWORD, full_name=name)
    if not Membership.objects.filter(user=user, tenant=tenant).exists():
        services.membership_create(user=user, tenant=tenant, **roles)
    return user


@transaction.atomic
def seed() -> tuple[Tenant, DemoPeople]:
    tenant = Tenant.objects.filter(slug="demo").first() or services.tenant_create(
        name="Demo Co", slug="demo"
    )
    admin = _person(
        tenant=tenant, email="admin@demo.test", name="Ada Admin", admin_role=AdminRole.FULL_ADMIN
    )
    if settings.SANDBOX_PROVIDER and not admin.is_staff:
        # The demo's admin may open the provider sandbox's pages (what was sent).
        admin.is_staff = True
        admin.save(update_fields=["is_staff"])
    supervisor = _person(
        tenant=tenant,
        email="supervisor@demo.test",
        name="Sam Supervisor",
        care_profile=CareProfile.SUPERVISOR,
    )
    profile, _ = MultimediaProfile.objects.get_or_create(
        tenant=tenant,
        name="Blended 3 chats",
        defaults={"max_chat": 3, "max_email": 2, "max_social": 3},
    )
    site, _ = Site.objects.get_or_create(
        tenant=tenant, name="Berlin", defaults={"multimedia_profile": profile}
    )
    team, _ = Team.objects.get_or_create(tenant=tenant, name="Support", defaults={"site": site})
    for code in ("Break", "Meeting", "Training"):
        IdleCode.objects.get_or_create(tenant=tenant, name=code)
    for code in ("Resolved", "Follow-up needed", "Spam"):
        WrapUpCode.objects.get_or_create(tenant=tenant, name=code)
    agents = []
    for email, name in (("agent1@demo.test", "Alex Agent"), ("agent2@demo.test", "Billie Agent")):
        user = _person(tenant=tenant, email=email, name=name, care_profile=CareProfile.AGENT)
        agent, _ = Agent.objects.get_or_create(
            tenant=tenant,
            user=user,
            defaults={
                "team": team,
                "site": site,
                "multimedia_profile": profile,
                "display_name": name,
            },
        )
        agents.append(agent)
    return tenant, DemoPeople(admin=admin, supervisor=supervisor, agents=agents)
