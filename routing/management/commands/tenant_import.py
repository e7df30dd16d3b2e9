"""manage.py tenant_import acme.json [--tenant-slug acme-staging]: creates the tenant if it does
not exist, then creates or updates its configuration from the file, all or nothing."""

import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from routing.config_transfer import ConfigImportError, tenant_config_import
from tenants.models import Tenant
from tenants.services import tenant_create


class Command(BaseCommand):
    help = (
        "Imports a tenant configuration written by tenant_export. Objects are matched by name, "
        "so importing the same file again changes nothing. Secrets are not in the file: the "
        "command lists the ones to enter in the admin console."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the JSON file tenant_export wrote ('-' reads stdin)")
        parser.add_argument(
            "--tenant-slug", help="import into this tenant (default: the slug in the file)"
        )
        parser.add_argument("--tenant-name", help="the name of a tenant the import creates")

    def handle(self, *args, **options):
        path = options["file"]
        try:
            text = self.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
            document = json.loads(text)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise CommandError(f"{path} cannot be read as JSON: {exc}") from exc
        source = document.get("tenant") if isinstance(document, dict) else None
        source = source if isinstance(source, dict) else {}
        slug = options["tenant_slug"] or source.get("slug")
        if not slug:
            raise CommandError("The file names no tenant: give --tenant-slug.")
        with transaction.atomic():
            tenant = Tenant.objects.filter(slug=slug).first()
            created = tenant is None
            if created:
                try:
                    tenant = tenant_create(
                        name=options["tenant_name"] or source.get("name") or slug, slug=slug
                    )
                except ValidationError as exc:
                    raise CommandError(f"Tenant {slug!r} cannot be created: {exc}") from exc
            try:
                result = tenant_config_import(tenant=tenant, document=document)
            except ConfigImportError as exc:
                raise CommandError(
                    "Nothing was imported:\n" + "\n".join(f"- {p}" for p in exc.problems)
                ) from exc
        self.stdout.write(f"Tenant {tenant.slug} {'created' if created else 'updated'}.")
        for section, counts in result["counts"].items():
            self.stdout.write(
                f"{section}: {counts['created']} created, {counts['updated']} updated, "
                f"{counts['unchanged']} unchanged"
            )
        for asset, secrets in result["secrets_to_enter"].items():
            self.stdout.write(
                self.style.WARNING(
                    f"Asset {asset!r} needs its secrets entered in the admin console: "
                    + ", ".join(secrets)
                )
            )
