"""Indexes the care console's search and reports read through: message full text (PostgreSQL
only, a GIN index on the same expression care_console.search queries) and the date columns the
reports filter on. They live on other apps' tables, so they are plain SQL the models do not own."""

from django.db import migrations

from care_console.search import INDEX_NAME, INDEX_SQL

REPORT_INDEXES = {
    "care_conversation_opened": ("channels_app_conversation", "tenant_id, opened_at"),
    "care_conversation_closed": ("channels_app_conversation", "tenant_id, closed_at"),
    "care_task_enqueued": ("routing_task", "tenant_id, enqueued_at"),
    "care_task_assigned": ("routing_task", "tenant_id, assigned_at"),
    "care_task_closed": ("routing_task", "tenant_id, closed_at"),
    "care_taskevent_kind_at": ("routing_taskevent", "tenant_id, kind, at"),
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(INDEX_SQL)
    for name, (table, columns) in REPORT_INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns})")


def drop(apps, schema_editor):
    for name in [INDEX_NAME, *REPORT_INDEXES]:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("care_console", "0001_supervisor_scope"),
        ("channels_app", "0004_inbound_event_fewer_indexes"),
        ("routing", "0002_queue_service_level_target_and_transfer_event"),
    ]

    operations = [migrations.RunPython(create, drop)]
