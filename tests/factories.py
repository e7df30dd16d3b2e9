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

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"Tenant {n}")
    kind = TenantKind.CUSTOMER

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.tenant_create(
            name=kwargs["name"], kind=kwargs.get("kind", TenantKind.CUSTOMER),
            partner=kwargs.get("partner"), slug=kwargs.get("slug"),
        )


def member(*, tenant: Tenant, email: str | None = None, admin_role: str | None = None,
           connect_role: str | None = None, care_profile: str = CareProfile.NONE) -> User:
    """A user with a membership in tenant, created through the role-syncing service."""
    user = UserFactory(**({"email": email} if email else {}))
    services.membership_create(
        user=user, tenant=tenant, admin_role=admin_role, connect_role=connect_role,
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
