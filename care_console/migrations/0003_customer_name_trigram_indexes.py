"""Trigram indexes for the transcript search by customer name or address (PostgreSQL only):
Django spells icontains as UPPER(column) LIKE UPPER(%s), so the indexes are on the same
expressions. SQLite keeps its plain match."""

from django.db import migrations

TRIGRAM_INDEXES = {
    "care_customer_name_trgm": ("channels_app_customer", "display_name"),
    "care_identity_address_trgm": ("channels_app_customeridentity", "address"),
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, (table, column) in TRIGRAM_INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin (UPPER({column}) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in TRIGRAM_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("care_console", "0002_search_and_report_indexes"),
    ]

    operations = [migrations.RunPython(create, drop)]
