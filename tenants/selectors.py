"""Reads for tenants and people, always scoped to a tenant or to what a user may reach."""

from tenants.access import tenants_reachable
from tenants.models import Agent, Tenant, User


def tenant_current(*, user: User, chosen_id: int | None) -> Tenant | None:
    reachable = tenants_reachable(user=user)
    if chosen_id is not None:
        chosen = reachable.filter(pk=chosen_id).first()
        if chosen is not None:
            return chosen
    return reachable.order_by("kind", "name").first()


def agent_for_user(*, user: User, tenant: Tenant | None = None) -> Agent | None:
    agents = Agent.objects.select_related("tenant", "team", "site", "multimedia_profile").filter(
        user=user
    )
    if tenant is not None:
        agents = agents.filter(tenant=tenant)
    return agents.first()
