"""Re-encrypt every stored secret with the first of FIELD_ENCRYPTION_KEYS (key rotation)."""

from django.core.management.base import BaseCommand

from channels_app.services.secrets import encrypted_secrets_reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted field with the first key of FIELD_ENCRYPTION_KEYS. Rotate by "
        "putting a new key first, running this, then removing the old key."
    )

    def handle(self, *args, **options) -> None:
        for label, count in encrypted_secrets_reencrypt().items():
            self.stdout.write(f"{label}: {count} row(s) re-encrypted")
