"""Node authorization, import validation with JSON paths, who may import, the shipped templates."""

import json
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command

from routing.flows import services
from routing.flows.models import Flow, FlowVersion, NodeAuthorization
from routing.flows.templates import template_list, template_load
from tenants.roles import ConnectRole
from tests.factories import member
from tests.routing.flows.conftest import flow_doc

pytestmark = pytest.mark.django_db


def test_the_repo_ships_an_inbound_template_per_channel_a_channel_agnostic_one_and_three_event_flows():
    names = set(template_list())
    assert {
        f"{c}_inbound" for c in ("sms", "email", "chat", "messenger", "whatsapp", "apple")
    } <= names
    assert {
        "channel_agnostic_inbound",
        "task_routed_event",
        "task_modified_event",
        "task_closed_event",
    } <= names
    for name, versions in template_list().items():
        for version in versions:
            assert services.definitions.problems(template_load(name, version)) == [], (
                name,
                version,
            )


def test_publishing_a_flow_with_an_unauthorized_node_names_the_node_and_how_to_authorize(
    tenant, owner
):
    document = flow_doc({"route": {"type": "queue_task", "queue": "Support"}})
    with pytest.raises(services.FlowValidationError) as caught:
        services.flow_import(tenant=tenant, document=document, user=owner)
    [problem] = caught.value.problems
    assert problem.path == "$.nodes.route"
    assert (
        'node "route" (queue_task)' in problem.message
        and '"task" node authorization' in problem.message
    )
    assert "Node authorizations" in problem.message and "Authorize" in problem.message
    assert not Flow.objects.exists()


def test_a_draft_cannot_be_published_until_its_nodes_are_authorized(tenant, owner):
    flow = Flow.objects.create(tenant=tenant, name="Draft")
    draft = services.flow_version_create(
        flow=flow, definition=flow_doc({"hi": {"type": "send_message", "text": "hi"}}), user=owner
    )
    with pytest.raises(services.FlowValidationError, match='"engage" node authorization'):
        services.flow_version_publish(version=draft, user=owner)
    authorization = services.node_authorization_authorize(tenant=tenant, node="engage", user=owner)
    assert authorization.authorized_by == owner and authorization.authorized_at is not None
    assert (
        services.flow_version_publish(version=draft, user=owner).status
        == FlowVersion.Status.PUBLISHED
    )


def test_a_broken_flow_file_is_rejected_with_the_json_path_of_each_problem(authorized, owner):
    document = flow_doc(
        {
            "ask": {"type": "wait_for_reply", "timeout_seconds": 0, "next": "gone"},
            "route": {"type": "queue_task", "queue": "Support", "priority": 11, "colour": "red"},
        },
        variables=[{"name": "x", "type": "text"}],
    )
    with pytest.raises(services.FlowValidationError) as caught:
        services.flow_import(tenant=authorized, document=document, user=owner)
    paths = {p.path for p in caught.value.problems}
    assert paths == {
        "$.nodes.ask.timeout_seconds",
        "$.nodes.ask.on_timeout",
        "$.nodes.route.priority",
        "$.nodes.route.colour",
        "$.variables[0].type",
    }
    assert not Flow.objects.exists()


def test_a_flow_file_with_dangling_paths_is_rejected_with_their_paths(authorized, owner):
    document = flow_doc(
        {
            "check": {
                "type": "evaluate",
                "branches": [
                    {
                        "name": "a",
                        "conditions": [{"value_of": "x", "operator": "is_empty"}],
                        "next": "nowhere",
                    }
                ],
                "next": None,
                "on_error": "lost",
            }
        }
    )
    with pytest.raises(services.FlowValidationError) as caught:
        services.flow_import(tenant=authorized, document=json.dumps(document), user=owner)
    assert [p.path for p in caught.value.problems] == [
        "$.nodes.check.on_error",
        "$.nodes.check.branches[0].next",
    ]


def test_a_file_that_is_not_json_says_where_it_breaks(authorized, owner):
    with pytest.raises(
        services.FlowValidationError, match=r"\$: is not valid JSON: .* line 1, column 2"
    ):
        services.flow_import(tenant=authorized, document=b"{nodes: 1}", user=owner)


@pytest.mark.parametrize("who", ["agent", "supervisor", "outsider"])
def test_only_workspace_roles_with_flow_access_may_import(authorized, request, who):
    user = request.getfixturevalue(who)
    user = getattr(user, "user", user)
    with pytest.raises(PermissionDenied, match="workspace"):
        services.flow_import_template(tenant=authorized, template_name="sms_inbound", user=user)
    assert not Flow.objects.exists()


def test_a_limited_workspace_user_may_import_but_a_read_only_one_may_not(authorized):
    limited = member(
        tenant=authorized, email="dev@acme.test", connect_role=ConnectRole.LIMITED_ACCESS
    )
    reader = member(tenant=authorized, email="reader@acme.test", connect_role=ConnectRole.READ_ONLY)
    assert services.flow_import_template(
        tenant=authorized, template_name="sms_inbound", user=limited
    )
    with pytest.raises(PermissionDenied):
        services.flow_import_template(tenant=authorized, template_name="email_inbound", user=reader)


def test_the_import_command_imports_a_template_and_reports_a_broken_file(
    authorized, owner, tmp_path
):
    out = StringIO()
    call_command(
        "flow_import", tenant="acme", template="messenger_inbound", user=owner.email, stdout=out
    )
    assert "Imported 'Facebook Messenger inbound'" in out.getvalue()
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(flow_doc({"x": {"type": "send_message"}})))
    err = StringIO()
    with pytest.raises(CommandError, match="not imported"):
        call_command("flow_import", tenant="acme", file=str(broken), stderr=err)
    assert "$.nodes.x: needs one of: text, content" in err.getvalue()


def test_the_authorize_command_records_the_user(tenant, owner):
    call_command("flow_authorize_nodes", tenant="acme", user=owner.email, stdout=StringIO())
    assert set(
        NodeAuthorization.objects.filter(
            tenant=tenant, authorized_by=owner, state="authorized"
        ).values_list("node", flat=True)
    ) == {"task", "engage"}


def test_ensuring_a_template_flow_imports_it_once(authorized):
    first = services.flow_template_ensure(tenant=authorized, template_name="whatsapp_inbound")
    again = services.flow_template_ensure(tenant=authorized, template_name="whatsapp_inbound")
    assert first == again and FlowVersion.objects.filter(flow=first).count() == 1
