import importlib

from django.conf import settings
from django.core.management.base import BaseCommand

from tenants import demo

# Apps that add to the demo, in dependency order.
DEMO_APPS = ("channels_app", "routing", "care_console")


class Command(BaseCommand):
    help = "Creates (or completes) the demo tenant and prints its logins."

    def handle(self, *args, **options):
        tenant, people = demo.seed()
        lines: list[str] = []
        for app in DEMO_APPS:
            try:
                module = importlib.import_module(f"{app}.demo")
            except ModuleNotFoundError as exc:
                if exc.name != f"{app}.demo":
                    raise
                continue
            lines += module.seed(tenant=tenant, people=people) or []
        self.stdout.write(self.style.SUCCESS(f"Demo tenant: {tenant.name}"))
        self.stdout.write(f"  password for every demo login: {demo.DEMO_PASSWORD}")
        base = settings.PUBLIC_BASE_URL.rstrip("/")
        self.stdout.write(f"  admin:      {people.admin.email}     -> {base}/admin/")
        self.stdout.write(f"  supervisor: {people.supervisor.email}")
        for agent in people.agents:
            self.stdout.write(f"  agent:      {agent.user.email}     -> {base}/desktop/")
        for line in lines:
            self.stdout.write(f"  {line}")
