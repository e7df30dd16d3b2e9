"""The admin console: the flow as a diagram above its JSON, the dry run, import and authorize."""

import pytest
from django.urls import reverse

from routing.flows import services
from routing.flows.models import Flow, FlowRun, NodeAuthorization

pytestmark = pytest.mark.django_db


@pytest.fixture
def console(client, owner):
    client.force_login(owner)
    return client


def test_the_flow_page_shows_the_diagram_with_flow_and_error_paths_and_the_json(
    console, authorized
):
    flow = services.flow_import_template(tenant=authorized, template_name="whatsapp_inbound")
    page = console.get(reverse("admin:flows_flow_change", args=[flow.pk])).content.decode()
    assert "<svg" in page and 'class="edge flow-path"' in page and 'class="edge error-path"' in page
    assert 'data-node="detect_language"' in page and 'class="flow-json"' in page
    assert "&quot;queue_task&quot;" in page


def test_the_admin_dry_run_shows_the_path_and_stores_nothing(console, authorized):
    flow = services.flow_import_template(tenant=authorized, template_name="sms_inbound")
    page = console.post(
        reverse("admin:flows_flow_dry_run", args=[flow.pk]),
        {"text": "danke", "replies": "", "variables": ""},
    ).content.decode()
    assert "Result: failed" in page or "Result: completed" in page
    assert "set_german" in page and 'stroke="#059669"' in page
    assert not FlowRun.objects.exists()


def test_importing_a_broken_file_in_the_console_lists_each_problem(console, authorized):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile(
        "f.json", b'{"schema_version": 1, "kind": "inbound_message", "start": "s", "nodes": {}}'
    )
    page = console.post(
        reverse("admin:flows_flow_import"), {"file": upload, "publish": "on"}
    ).content.decode()
    assert "$.nodes" in page and not Flow.objects.exists()
    console.post(reverse("admin:flows_flow_import"), {"template": "email_inbound", "publish": "on"})
    assert Flow.objects.get().name == "Email inbound"


def test_the_authorize_action_records_who_authorized(console, tenant, owner):
    changelist = reverse("admin:flows_nodeauthorization_changelist")
    console.get(changelist)
    ids = list(NodeAuthorization.objects.filter(tenant=tenant).values_list("pk", flat=True))
    assert len(ids) == 2
    console.post(changelist, {"action": "authorize", "_selected_action": ids})
    assert set(NodeAuthorization.objects.values_list("state", "authorized_by")) == {
        ("authorized", owner.pk)
    }


def test_a_supervisor_does_not_get_the_flow_console(client, supervisor, authorized):
    flow = services.flow_import_template(tenant=authorized, template_name="sms_inbound")
    client.force_login(supervisor)
    response = client.get(reverse("admin:flows_flow_change", args=[flow.pk]))
    assert response.status_code in (302, 403, 404)


def test_an_outsider_never_sees_or_opens_another_tenants_flows_in_the_console(
    client, outsider, authorized
):
    flow = services.flow_import_template(tenant=authorized, template_name="whatsapp_inbound")
    client.force_login(outsider)

    listing = client.get(reverse("admin:flows_flow_changelist"))
    change = client.get(reverse("admin:flows_flow_change", args=[flow.pk]))
    dry_run = client.post(
        reverse("admin:flows_flow_dry_run", args=[flow.pk]),
        {"text": "hola", "replies": "", "variables": ""},
    )

    assert listing.status_code == 200 and flow.name.encode() not in listing.content
    assert change.status_code == 302 and change.url == "/admin/"
    assert dry_run.status_code in (302, 404)
    assert b"detect_language" not in dry_run.content
