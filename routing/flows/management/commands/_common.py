from django.core.management.base import CommandError

from tenants.models import Tenant, User


def tenant_and_user(options) -> tuple[Tenant, User | None]:
    tenant = Tenant.objects.filter(slug=options["tenant"]).first()
    if tenant is None:
        raise CommandError(f"No tenant with slug {options['tenant']!r}.")
    user = None
    if options.get("user"):
        user = User.objects.filter(email=options["user"].lower()).first()
        if user is None:
            raise CommandError(f"No user {options['user']!r}.")
    return tenant, user
