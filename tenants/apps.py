from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenants and people"

    def ready(self) -> None:
        from config import logmask
        from tenants import checks  # noqa: F401  (registers the system checks)

        # Invitation tokens travel in URLs; keep them out of every log that prints a path.
        logmask.install()
        # The matrix is code: its permission rows and group grants follow it after every migrate.
        post_migrate.connect(_after_migrate, dispatch_uid="tenants-permissions")


def _after_migrate(sender, using: str = "default", **kwargs) -> None:
    if sender.name != "tenants":
        return
    from tenants.services import permissions_ensure

    permissions_ensure(using=using)
