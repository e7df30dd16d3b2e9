"""One tenant set up as a newcomer would: an asset on every channel wired to the fake provider,
each with an entry point running its shipped inbound flow, the event flows, the Support / Chat /
Email queues served by one team, N agents with one multimedia profile, a wrap-up code, and a
supervisor who may move conversations. Every agent and the supervisor get a signed-in session."""

from dataclasses import dataclass

CHANNELS = ("whatsapp", "messenger", "sms", "email", "apple", "chat")
INBOUND_TEMPLATES = {
    "whatsapp": "whatsapp_inbound",
    "messenger": "messenger_inbound",
    "sms": "sms_inbound",
    "email": "email_inbound",
    "apple": "apple_inbound",
    "chat": "chat_inbound",
}
EVENT_TEMPLATES = ("task_routed_event", "task_modified_event", "task_closed_event")
# The multimedia profile every agent has: what the capacity check holds them to.
PROFILE = {"max_chat": 2, "max_email": 1, "max_social": 3}


@dataclass
class Seeded:
    tenant_id: int
    assets: dict  # kind -> ChannelAsset
    widget_id: str
    agent_ids: list[int]
    agent_cookies: list[str]
    supervisor_cookie: str
    wrap_up_code_id: int
    rona_seconds: int


def _session(user) -> str:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def seed(*, agents: int, provider_url: str, rona_seconds: int, origin: str) -> Seeded:
    from django.contrib.auth.hashers import make_password

    from channels_app.models import (
        MEDIA_TYPE_OF_KIND,
        ChannelAsset,
        ChannelKind,
        ChatWidget,
        EmailIntake,
        SmsNumberType,
    )
    from routing.flows import services as flows
    from routing.flows.models import AuthorizableNode
    from routing.models import EntryPoint, Queue
    from routing.services import agent_state_set
    from tenants.models import Agent, MultimediaProfile, Site, Team, TenantPolicy, User, WrapUpCode
    from tenants.roles import AdminRole, CareProfile
    from tenants.services import membership_create, tenant_create

    tenant = tenant_create(name="Soak", slug="soak")
    TenantPolicy.objects.filter(tenant=tenant).update(
        rona_chat_seconds=rona_seconds,
        rona_email_seconds=rona_seconds,
        rona_social_seconds=rona_seconds,
    )
    fields = {
        ChannelKind.WHATSAPP: {
            "wa_phone_number_id": "710000000000001",
            "wa_business_account_id": "710000000000002",
            "app_secret": "soak-whatsapp-app-secret",
            "verify_token": "soak-verify",
            "access_token": "soak-whatsapp-access-token",
        },
        ChannelKind.MESSENGER: {
            "fb_page_id": "720000000000001",
            "app_secret": "soak-messenger-app-secret",
            "verify_token": "soak-verify",
            "access_token": "soak-page-access-token",
        },
        ChannelKind.SMS: {
            "sms_number": "+15005550777",
            "sms_number_type": SmsNumberType.LONG,
            "sms_account_sid": "AC0000000000000000000000000000soak",
            "auth_token": "soak-twilio-auth-token",
        },
        ChannelKind.EMAIL: {
            "email_address": "support@soak.example",
            "email_intake": EmailIntake.WEBHOOK,
            "email_signing_key": "soak-mail-signing-key",
            "access_token": "soak-mail-api-key",
        },
        ChannelKind.APPLE: {
            "apple_business_id": "00000000-0000-4000-8000-soak00000001",
            "apple_msp_id": "soak-msp",
            "apple_msp_secret": "c29hay1hcHBsZS1tc3Atc2VjcmV0",
        },
    }
    assets = {}
    for kind, values in fields.items():
        assets[str(kind)] = ChannelAsset.objects.create(
            tenant=tenant,
            kind=kind,
            name=f"Soak {kind}",
            api_base_url=f"{provider_url}/{kind}",
            **values,
        )
    chat = ChannelAsset.objects.create(tenant=tenant, kind=ChannelKind.CHAT, name="Soak chat")
    widget, _ = ChatWidget.objects.get_or_create(asset=chat)
    widget.allowed_origins = origin
    widget.save()
    assets["chat"] = chat

    for node in (AuthorizableNode.TASK, AuthorizableNode.ENGAGE):
        flows.node_authorization_authorize(tenant=tenant, node=node, user=None)
    for name in EVENT_TEMPLATES:
        flows.flow_template_ensure(tenant=tenant, template_name=name, user=None)
    for kind, asset in assets.items():
        flow = flows.flow_template_ensure(
            tenant=tenant, template_name=INBOUND_TEMPLATES[kind], user=None
        )
        media = MEDIA_TYPE_OF_KIND[asset.kind]
        EntryPoint.objects.create(
            tenant=tenant,
            asset=asset,
            name=f"{kind} entry point",
            channel_type=media,
            social_channel_type=kind if media == "social" else "",
            flow=flow,
        )

    profile = MultimediaProfile.objects.create(
        tenant=tenant, name="Soak profile", blending="blended", **PROFILE
    )
    site = Site.objects.create(tenant=tenant, name="Soak site", multimedia_profile=profile)
    team = Team.objects.create(tenant=tenant, site=site, name="Support")
    for name, channel_type, default in (
        ("Support", "social", True),
        ("Chat", "chat", False),
        ("Email", "email", False),
    ):
        queue = Queue.objects.create(
            tenant=tenant, name=name, channel_type=channel_type, default=default
        )
        queue.teams.set([team])
    code = WrapUpCode.objects.create(tenant=tenant, name="Resolved")

    password = make_password(None)
    users = User.objects.bulk_create(
        [User(email=f"agent{i:03d}@soak.test", password=password) for i in range(agents)]
    )
    agent_rows = []
    for i, user in enumerate(users):
        membership_create(user=user, tenant=tenant, care_profile=CareProfile.AGENT)
        agent = Agent.objects.create(
            tenant=tenant,
            user=user,
            team=team,
            site=site,
            multimedia_profile=profile,
            display_name=f"Agent {i:03d}",
        )
        agent_state_set(agent=agent, state="available")
        agent_rows.append(agent)
    supervisor = User.objects.create(email="supervisor@soak.test", password=password)
    membership_create(
        user=supervisor,
        tenant=tenant,
        admin_role=AdminRole.FULL_ADMIN,
        care_profile=CareProfile.SUPERVISOR,
    )
    return Seeded(
        tenant_id=tenant.pk,
        assets=assets,
        widget_id=str(widget.widget_id),
        agent_ids=[a.pk for a in agent_rows],
        agent_cookies=[_session(u) for u in users],
        supervisor_cookie=_session(supervisor),
        wrap_up_code_id=code.pk,
        rona_seconds=rona_seconds,
    )
