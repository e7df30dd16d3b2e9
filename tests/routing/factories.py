"""Routing test data: channel assets, conversations and agents with their multimedia profiles."""

import itertools

from channels_app.models import (
    AuthorKind,
    ChannelAsset,
    Conversation,
    Customer,
    CustomerIdentity,
    DeliveryStatus,
    Direction,
    Message,
)
from routing.models import Queue, Skill, SkillProfile
from routing.services import agent_skill_profile_set, skill_profile_values_replace
from tenants.models import Agent, MultimediaProfile, Site, Team, Tenant
from tenants.roles import CareProfile
from tests.factories import member

_seq = itertools.count(1)


def make_asset(*, tenant: Tenant, kind: str = "chat", name: str | None = None) -> ChannelAsset:
    return ChannelAsset.objects.create(
        tenant=tenant, kind=kind, name=name or f"{kind} asset {next(_seq)}"
    )


def make_conversation(
    *,
    tenant: Tenant,
    kind: str = "chat",
    asset: ChannelAsset | None = None,
    customer_name: str = "Dana Customer",
    text: str = "",
) -> Conversation:
    asset = (
        asset
        or ChannelAsset.objects.filter(tenant=tenant, kind=kind).first()
        or make_asset(tenant=tenant, kind=kind)
    )
    customer = Customer.objects.create(tenant=tenant, display_name=customer_name)
    identity = CustomerIdentity.objects.create(
        tenant=tenant, customer=customer, kind=kind, address=f"addr-{next(_seq)}"
    )
    conversation = Conversation.objects.create(
        tenant=tenant, asset=asset, customer=customer, identity=identity, kind=kind
    )
    if text:
        Message.objects.create(
            tenant=tenant,
            conversation=conversation,
            asset=asset,
            direction=Direction.INBOUND,
            author_kind=AuthorKind.CUSTOMER,
            text=text,
            status=DeliveryStatus.RECEIVED,
        )
    return conversation


def make_team(
    *,
    tenant: Tenant,
    name: str | None = None,
    max_chat: int = 3,
    max_email: int = 1,
    max_social: int = 3,
    blending: str = "blended",
) -> Team:
    n = next(_seq)
    profile = MultimediaProfile.objects.create(
        tenant=tenant,
        name=f"Profile {n}",
        max_chat=max_chat,
        max_email=max_email,
        max_social=max_social,
        blending=blending,
    )
    site = Site.objects.create(tenant=tenant, name=f"Site {n}", multimedia_profile=profile)
    return Team.objects.create(tenant=tenant, site=site, name=name or f"Team {n}")


def make_agent(
    *,
    tenant: Tenant,
    team: Team,
    name: str | None = None,
    max_chat: int | None = None,
    max_email: int | None = None,
    max_social: int | None = None,
    blending: str | None = None,
) -> Agent:
    n = next(_seq)
    profile = team.site.multimedia_profile
    if any(v is not None for v in (max_chat, max_email, max_social, blending)):
        profile = MultimediaProfile.objects.create(
            tenant=tenant,
            name=f"Own profile {n}",
            max_chat=profile.max_chat if max_chat is None else max_chat,
            max_email=profile.max_email if max_email is None else max_email,
            max_social=profile.max_social if max_social is None else max_social,
            blending=blending or profile.blending,
        )
    user = member(
        tenant=tenant, email=f"agent{n}@{tenant.slug}.test", care_profile=CareProfile.AGENT
    )
    return Agent.objects.create(
        tenant=tenant,
        user=user,
        team=team,
        site=team.site,
        multimedia_profile=profile,
        display_name=name or f"Agent {n}",
    )


def make_queue(
    *,
    tenant: Tenant,
    teams: list[Team],
    name: str | None = None,
    channel_type: str = "chat",
    **fields,
) -> Queue:
    queue = Queue.objects.create(
        tenant=tenant, name=name or f"Queue {next(_seq)}", channel_type=channel_type, **fields
    )
    queue.teams.set(teams)
    return queue


def make_skill(
    *, tenant: Tenant, name: str, type: str, enum_values: list[str] | None = None
) -> Skill:
    return Skill.objects.create(tenant=tenant, name=name, type=type, enum_values=enum_values or [])


def give_skills(agent: Agent, **values) -> SkillProfile:
    """Gives the agent its own skill profile with these skill name -> value pairs."""
    profile = SkillProfile.objects.create(
        tenant_id=agent.tenant_id, name=f"Skills of {agent.pk}-{next(_seq)}"
    )
    skill_profile_values_replace(
        profile=profile, values={k.replace("_", " "): v for k, v in values.items()}
    )
    agent_skill_profile_set(agent=agent, profile=profile)
    return profile
