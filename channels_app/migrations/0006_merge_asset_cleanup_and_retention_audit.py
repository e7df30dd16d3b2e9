from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("channels_app", "0005_remove_asset_registered_with_routing"),
        ("channels_app", "0005_retention_run_audit"),
    ]

    operations = []
