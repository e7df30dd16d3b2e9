"""factory_boy factories for model data. Tenants and memberships go through the services so
role groups and permissions exist exactly as in production."""

import factory

from tenants import services
from tenants.models import Agent, IdleCode, MultimediaProfile, Site, Team, Tenant, User
from tenants.roles import CareProfile, TenantKind


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Faker("name")

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or "correct horse battery")
        if create:
            self.save(update_fields=["password"])


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"Tenant {n}")
    kind = TenantKind.CUSTOMER

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.tenant_create(
            name=kwargs["name"],
            kind=kwargs.get("kind", TenantKind.CUSTOMER),
            partner=kwargs.get("partner"),
            slug=kwargs.get("slug"),
        )


def member(
    *,
    tenant: Tenant,
    email: str | None = None,
    admin_role: str | None = None,
    connect_role: str | None = None,
    care_profile: str = CareProfile.NONE,
) -> User:
    """A user with a membership in tenant, created through the role-syncing service."""
    user = UserFactory(**({"email": email} if email else {}))
    services.membership_create(
        user=user,
        tenant=tenant,
        admin_role=admin_role,
        connect_role=connect_role,
        care_profile=care_profile,
    )
    return user


class MultimediaProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MultimediaProfile

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Profile {n}")


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Site {n}")
    multimedia_profile = factory.SubFactory(
        MultimediaProfileFactory, tenant=factory.SelfAttribute("..tenant")
    )


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Team {n}")
    site = factory.SubFactory(SiteFactory, tenant=factory.SelfAttribute("..tenant"))


class AgentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agent

    tenant = factory.SubFactory(TenantFactory)
    user = factory.LazyAttribute(lambda o: member(tenant=o.tenant, care_profile=CareProfile.AGENT))
    team = factory.SubFactory(TeamFactory, tenant=factory.SelfAttribute("..tenant"))
    site = factory.SelfAttribute("team.site")
    multimedia_profile = factory.SelfAttribute("site.multimedia_profile")
    display_name = factory.Faker("first_name")


class IdleCodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IdleCode

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Break {n}")


# --- channels_app -------------------------------------------------------------------------------

from channels_app.models import (  # noqa: E402
    ChannelAsset,
    ChannelKind,
    Conversation,
    Customer,
    CustomerIdentity,
    DeliveryStatus,
    Direction,
    Message,
)


class ChannelAssetFactory(factory.django.DjangoModelFactory):
    """A WhatsApp asset by default; pass kind and the provider ids for the others."""

    class Meta:
        model = ChannelAsset

    tenant = factory.SubFactory(TenantFactory)
    kind = ChannelKind.WHATSAPP
    name = factory.Sequence(lambda n: f"Asset {n}")
    app_secret = "test-app-secret-0123456789"
    verify_token = "test-verify-token"
    access_token = "test-access-token-EAAG0123456789"
    auth_token = "test-auth-token-0123456789abcdef"


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    tenant = factory.SubFactory(TenantFactory)
    display_name = factory.Faker("name")


class CustomerIdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerIdentity

    customer = factory.SubFactory(CustomerFactory)
    tenant = factory.SelfAttribute("customer.tenant")
    kind = ChannelKind.WHATSAPP
    address = factory.Sequence(lambda n: f"49151{n:08d}")


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    asset = factory.SubFactory(ChannelAssetFactory)
    tenant = factory.SelfAttribute("asset.tenant")
    kind = factory.SelfAttribute("asset.kind")
    identity = factory.SubFactory(
        CustomerIdentityFactory,
        customer=factory.SubFactory(CustomerFactory, tenant=factory.SelfAttribute("...tenant")),
        kind=factory.SelfAttribute("..kind"),
    )
    customer = factory.SelfAttribute("identity.customer")


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory)
    tenant = factory.SelfAttribute("conversation.tenant")
    asset = factory.SelfAttribute("conversation.asset")
    direction = Direction.INBOUND
    author_kind = "customer"
    text = factory.Faker("sentence")
    status = DeliveryStatus.RECEIVED
