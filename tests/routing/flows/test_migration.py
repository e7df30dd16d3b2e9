"""Migrating a flow to a newer template version keeps the admin's own node settings."""

import copy
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command

from routing.flows import selectors, services
from routing.flows.templates import template_load

pytestmark = pytest.mark.django_db


@pytest.fixture
def customized(authorized, owner):
    """Acme's WhatsApp flow from template v1, with the admin's own greeting, queue and an extra node."""
    v1 = template_load("whatsapp_inbound", 1)
    version = services.flow_import(tenant=authorized, document=v1, user=owner, name="WhatsApp in")
    mine = copy.deepcopy(version.definition)
    mine["nodes"]["greet"]["text"] = "Willkommen bei Acme, {{customer_name}}!"
    mine["nodes"]["queue"]["queue"] = "Premium"
    mine["nodes"]["queue"]["priority"] = 2
    mine["nodes"]["tag"] = {
        "type": "set_variables",
        "assignments": [{"name": "source", "value": "wa"}],
        "next": "queue",
    }
    mine["nodes"]["greet"]["next"] = "tag"
    draft = services.flow_version_create(flow=version.flow, definition=mine, user=owner)
    services.flow_version_publish(version=draft, user=owner)
    return version.flow


def test_migration_takes_the_new_template_and_keeps_the_admins_settings(customized, owner):
    result = services.flow_migrate(flow=customized, user=owner)
    nodes = result.version.definition["nodes"]
    assert result.from_template_version == 1 and result.to_template_version == 3
    assert "detect_language" in nodes and nodes["remember"]["next"] == "detect_language"
    assert nodes["greet"]["text"] == "Willkommen bei Acme, {{customer_name}}!"
    assert nodes["queue"]["queue"] == "Premium" and nodes["queue"]["priority"] == 2
    assert nodes["tag"]["next"] == "queue" and nodes["greet"]["next"] == "tag"
    assert {"greet.text", "greet.next", "queue.queue", "queue.priority"} <= set(
        result.kept_settings
    )
    assert result.kept_nodes == ["tag"]
    assert result.version.status == "published" and result.version.number == 3
    customized.refresh_from_db()
    assert customized.template_version == 3
    assert selectors.flow_version_current(flow=customized) == result.version


def test_migration_refuses_without_a_newer_version_and_for_users_without_the_workspace_role(
    customized, owner, supervisor
):
    with pytest.raises(PermissionDenied):
        services.flow_migrate(flow=customized, user=supervisor)
    services.flow_migrate(flow=customized, user=owner)
    with pytest.raises(ValidationError, match="already at template version 3"):
        services.flow_migrate(flow=customized, user=owner)


def test_the_migrate_command_reports_the_kept_settings(customized, owner):
    out = StringIO()
    call_command("flow_migrate", tenant="acme", flow="WhatsApp in", user=owner.email, stdout=out)
    assert "v1 -> v3" in out.getvalue() and "kept your setting queue.queue" in out.getvalue()
