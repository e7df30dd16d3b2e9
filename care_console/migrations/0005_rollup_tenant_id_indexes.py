"""Indexes the report rollup's fold reads through: a tenant's task events, tasks and
conversations after the last id it has folded. Without them the fold of a small tenant walks
every newer row of the larger ones. They live on other apps' tables, so they are plain SQL."""

from django.db import migrations

FOLD_INDEXES = {
    "care_taskevent_tenant_id": ("routing_taskevent", "tenant_id, id"),
    "care_task_tenant_id": ("routing_task", "tenant_id, id"),
    "care_conversation_tenant_id": ("channels_app_conversation", "tenant_id, id"),
}


def create(apps, schema_editor):
    for name, (table, columns) in FOLD_INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns})")


def drop(apps, schema_editor):
    for name in FOLD_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("care_console", "0004_hourly_report_rollup"),
    ]

    operations = [migrations.RunPython(create, drop)]
