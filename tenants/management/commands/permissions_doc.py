from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from tenants.permissions import render_markdown


class Command(BaseCommand):
    help = "Writes docs/permissions.md from the permission matrix in tenants/permissions.py."

    def handle(self, *args, **options):
        path = Path(settings.BASE_DIR) / "docs" / "permissions.md"
        path.write_text(render_markdown())
        self.stdout.write(f"wrote {path}")
