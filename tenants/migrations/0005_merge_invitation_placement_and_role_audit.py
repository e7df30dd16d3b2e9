from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0004_invitation_agent_placement"),
        ("tenants", "0004_role_change_audit"),
    ]

    operations = []
