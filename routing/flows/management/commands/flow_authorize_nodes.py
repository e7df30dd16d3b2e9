from django.core.management.base import BaseCommand

from routing.flows import services
from routing.flows.management.commands._common import tenant_and_user
from routing.flows.models import AuthorizableNode


class Command(BaseCommand):
    help = "Authorizes the task and engage nodes for a tenant (seed step 2)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="Tenant slug")
        parser.add_argument(
            "--node",
            choices=AuthorizableNode.values,
            action="append",
            help="Which node (repeatable); default: all",
        )
        parser.add_argument("--user", help="Record this user (email) as the one who authorized")

    def handle(self, *args, **options):
        tenant, user = tenant_and_user(options)
        for node in options["node"] or AuthorizableNode.values:
            services.node_authorization_authorize(tenant=tenant, node=node, user=user)
            self.stdout.write(self.style.SUCCESS(f"Authorized {node} for {tenant.slug}."))
