from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from routing.flows import services
from routing.flows.management.commands._common import tenant_and_user
from routing.flows.templates import template_list


class Command(BaseCommand):
    help = "Imports a shipped flow template or a flow file into a tenant (validated; published by default)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="Tenant slug")
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--template", help="A shipped template name (see --list)")
        source.add_argument("--file", help="A flow file (JSON)")
        source.add_argument("--list", action="store_true", help="List the shipped templates")
        parser.add_argument("--name", help="Flow name (defaults to the document's)")
        parser.add_argument(
            "--user", help="Import as this user (email); needs a workspace role with flow access"
        )
        parser.add_argument(
            "--draft", action="store_true", help="Keep the imported version as a draft"
        )

    def handle(self, *args, **options):
        if options["list"]:
            for name, versions in template_list().items():
                self.stdout.write(f"{name}\tversions {', '.join(map(str, versions))}")
            return
        if not options["tenant"] or not (options["template"] or options["file"]):
            raise CommandError("Give --tenant and one of --template or --file (or --list).")
        tenant, user = tenant_and_user(options)
        try:
            if options["template"]:
                flow = services.flow_import_template(
                    tenant=tenant,
                    template_name=options["template"],
                    user=user,
                    name=options["name"],
                    publish=not options["draft"],
                )
            else:
                path = Path(options["file"])
                if not path.is_file():
                    raise CommandError(f"No file {path}.")
                flow = services.flow_import(
                    tenant=tenant,
                    document=path.read_bytes(),
                    user=user,
                    name=options["name"],
                    publish=not options["draft"],
                ).flow
        except services.FlowValidationError as exc:
            for problem in exc.problems:
                self.stderr.write(str(problem))
            raise CommandError(
                f"The flow was not imported: {len(exc.problems)} problem(s)."
            ) from None
        except (ValidationError, PermissionDenied) as exc:
            raise CommandError(" ".join(getattr(exc, "messages", [str(exc)]))) from None
        version = flow.versions.order_by("-number").first()
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {flow.name!r} (flow {flow.pk}) as version "
                f"{version.number}, {version.status}."
            )
        )
