"""manage.py tenant_export <tenant-slug> > acme.json: the tenant's configuration, no secrets."""

import json

from django.core.management.base import BaseCommand, CommandError

from routing.config_transfer import tenant_config_export
from tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Writes one tenant's configuration (assets without secrets, flows with their published "
        "versions, queues, skills, profiles, teams, entry points, codes, templates) as JSON."
    )

    def add_arguments(self, parser):
        parser.add_argument("tenant", help="the tenant's slug")

    def handle(self, *args, **options):
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No tenant with slug {options['tenant']!r}.")
        document = tenant_config_export(tenant=tenant)
        self.stdout.write(json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False))
