"""Re-encrypting the secrets stored in the database under the newest field encryption key."""

from django.apps import apps
from django.db import transaction

from channels_app.fields import EncryptedTextField

BATCH_SIZE = 500


def encrypted_fields() -> list[tuple[type, list[str]]]:
    """Every model with encrypted fields, and the names of those fields."""
    found = []
    for model in apps.get_models():
        names = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if names:
            found.append((model, names))
    return found


def encrypted_secrets_reencrypt(*, batch_size: int = BATCH_SIZE) -> dict[str, int]:
    """Reads every encrypted value (any configured key decrypts it) and writes it back, which
    encrypts it with the first key. Returns the rows rewritten per model."""
    rewritten: dict[str, int] = {}
    for model, names in encrypted_fields():
        count = 0
        last_pk = None
        while True:
            rows = model._base_manager.order_by("pk")
            if last_pk is not None:
                rows = rows.filter(pk__gt=last_pk)
            batch = list(rows.values_list("pk", *names)[:batch_size])
            if not batch:
                break
            with transaction.atomic():
                for pk, *values in batch:
                    changes = {n: v for n, v in zip(names, values, strict=True) if v}
                    if changes:
                        model._base_manager.filter(pk=pk).update(**changes)
                        count += 1
            last_pk = batch[-1][0]
        rewritten[model._meta.label] = count
    return rewritten
