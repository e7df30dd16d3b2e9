"""The demo tenant's routing: Support, Chat and Email queues, skills, and an entry point per demo channel asset
running the shipped inbound flow of its channel (idempotent, called by demo_seed)."""

from django.db import transaction

from channels_app.models import MEDIA_TYPE_OF_KIND, ChannelAsset
from routing.flows import services as flows
from routing.flows.models import AuthorizableNode
from routing.models import EntryPoint, Queue, Skill, SkillProfile, SkillType
from routing.services import agent_skill_profile_set, skill_profile_values_replace
from tenants.models import Team, Tenant

INBOUND_TEMPLATES = {
    "whatsapp": "whatsapp_inbound",
    "messenger": "messenger_inbound",
    "sms": "sms_inbound",
    "email": "email_inbound",
    "apple": "apple_inbound",
    "chat": "chat_inbound",
}
EVENT_TEMPLATES = ("task_routed_event", "task_modified_event", "task_closed_event")


@transaction.atomic
def seed(*, tenant: Tenant, people) -> list[str]:
    team = Team.objects.get(tenant=tenant, name="Support")
    support, created = Queue.objects.get_or_create(
        tenant=tenant, name="Support", defaults={"channel_type": "social", "default": True}
    )
    if created:
        support.teams.set([team])
    chat, created = Queue.objects.get_or_create(
        tenant=tenant, name="Chat", defaults={"channel_type": "chat"}
    )
    if created:
        chat.teams.set([team])
    # Email contacts wait in a queue of their own: an email queue takes only email (the shipped
    # email flow queues into "Email").
    email, created = Queue.objects.get_or_create(
        tenant=tenant, name="Email", defaults={"channel_type": "email"}
    )
    if created:
        email.teams.set([team])

    Skill.objects.get_or_create(
        tenant=tenant,
        name="Language",
        defaults={"type": SkillType.ENUM, "enum_values": ["de", "en", "es"]},
    )
    Skill.objects.get_or_create(
        tenant=tenant, name="Billing", defaults={"type": SkillType.PROFICIENCY}
    )
    for agent, values in zip(
        people.agents,
        ({"Language": "de", "Billing": 7}, {"Language": "en", "Billing": 3}),
        strict=False,
    ):
        profile, created = SkillProfile.objects.get_or_create(tenant=tenant, name=f"{agent} skills")
        if created:
            skill_profile_values_replace(profile=profile, values=values)
            agent_skill_profile_set(agent=agent, profile=profile)

    for node in (AuthorizableNode.TASK, AuthorizableNode.ENGAGE):
        flows.node_authorization_authorize(tenant=tenant, node=node, user=people.admin)
    for name in EVENT_TEMPLATES:
        flows.flow_template_ensure(tenant=tenant, template_name=name, user=people.admin)
    wired = []
    for asset in ChannelAsset.objects.filter(tenant=tenant, kind__in=INBOUND_TEMPLATES):
        flow = flows.flow_template_ensure(
            tenant=tenant, template_name=INBOUND_TEMPLATES[asset.kind], user=people.admin
        )
        media = MEDIA_TYPE_OF_KIND[asset.kind]
        EntryPoint.objects.get_or_create(
            asset=asset,
            defaults={
                "tenant": tenant,
                "name": f"{asset.get_kind_display()} entry point",
                "channel_type": media,
                "social_channel_type": asset.kind if media == "social" else "",
                "flow": flow,
            },
        )
        wired.append(asset.get_kind_display())
    return [
        f"routing:    entry points for {', '.join(wired)} run their inbound flows into the Support queue (email into the Email queue, live chat into the Chat queue)"
    ]
