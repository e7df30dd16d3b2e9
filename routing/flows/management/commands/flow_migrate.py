from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from routing.flows import services
from routing.flows.management.commands._common import tenant_and_user
from routing.flows.models import Flow


class Command(BaseCommand):
    help = (
        "Migrates a flow to a newer version of its template, keeping the admin's own node settings."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="Tenant slug")
        parser.add_argument("--flow", required=True, help="Flow name")
        parser.add_argument(
            "--to-version", type=int, help="Template version (defaults to the newest)"
        )
        parser.add_argument(
            "--template", help="Template to migrate to (defaults to the flow's own)"
        )
        parser.add_argument(
            "--user", help="Migrate as this user (email); needs a workspace role with flow access"
        )
        parser.add_argument(
            "--draft", action="store_true", help="Keep the migrated version as a draft"
        )

    def handle(self, *args, **options):
        tenant, user = tenant_and_user(options)
        flow = Flow.objects.filter(tenant=tenant, name=options["flow"]).first()
        if flow is None:
            raise CommandError(f"No flow {options['flow']!r} in {tenant.slug}.")
        try:
            result = services.flow_migrate(
                flow=flow,
                user=user,
                to_version=options["to_version"],
                template_name=options["template"],
                publish=not options["draft"],
            )
        except services.FlowValidationError as exc:
            for problem in exc.problems:
                self.stderr.write(str(problem))
            raise CommandError("The migrated flow does not validate; nothing changed.") from None
        except (ValidationError, PermissionDenied) as exc:
            raise CommandError(" ".join(getattr(exc, "messages", [str(exc)]))) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"{flow.name}: template v{result.from_template_version} -> v{result.to_template_version}, "
                f"flow version {result.version.number} ({result.version.status})."
            )
        )
        for setting in result.kept_settings:
            self.stdout.write(f"kept your setting {setting}")
        for node_id in result.kept_nodes:
            self.stdout.write(f"kept your node {node_id}")
        for edge in result.dropped_edges:
            self.stdout.write(f"cleared {edge}: its target no longer exists")
