"""Revoking a node authorization stops published flows' nodes of that family, and the admin is
warned which flows that touches before revoking."""

import pytest

from routing.flows import services
from routing.flows.models import AuthorizableNode, FlowRun, NodeAuthorization
from routing.models import Task
from tests.routing.flows.conftest import flow_doc
from tests.tenants.test_admin_login import sign_in

pytestmark = pytest.mark.django_db

ROUTE_WITH_ERROR_PATH = flow_doc(
    {
        "route": {"type": "queue_task", "queue": "Support", "next": None, "on_error": "note"},
        "note": {
            "type": "set_variables",
            "assignments": [{"name": "routed", "value": "no"}],
            "next": None,
        },
    },
    variables=[{"name": "routed", "type": "string"}],
    name="Support inbound",
)


def test_a_published_flow_takes_the_error_path_once_its_node_is_revoked(
    tenant, owner, publish, conversation, queues
):
    version = publish(ROUTE_WITH_ERROR_PATH)
    services.node_authorization_revoke(tenant=tenant, node=AuthorizableNode.TASK, user=owner)

    run = services.flow_run_start(
        version=version, conversation=conversation, trigger="inbound_message"
    )

    route = run.steps.get(node_id="route")
    assert route.path == "error"
    assert 'the "task" node authorization was revoked' in route.error
    assert run.steps.filter(node_id="note", path="flow").exists()
    assert run.status == FlowRun.Status.COMPLETED
    assert not Task.objects.filter(queue=queues["Support"]).exists()


def test_the_same_flow_routes_while_the_node_is_authorized(publish, conversation, queues):
    version = publish(ROUTE_WITH_ERROR_PATH)

    run = services.flow_run_start(
        version=version, conversation=conversation, trigger="inbound_message"
    )

    assert run.steps.get(node_id="route").path == "flow"
    assert Task.objects.get(conversation=conversation).queue == queues["Support"]


def revoke_in_console(client, authorization, **extra):
    return client.post(
        "/admin/flows/nodeauthorization/",
        {"action": "revoke", "_selected_action": [authorization.pk], **extra},
    )


def test_the_console_names_the_flows_a_revocation_touches_before_revoking(
    client, tenant, owner, publish
):
    publish(ROUTE_WITH_ERROR_PATH)
    task = NodeAuthorization.objects.get(tenant=tenant, node=AuthorizableNode.TASK)
    sign_in(client, owner.email)

    warning = revoke_in_console(client, task)

    assert warning.status_code == 200
    text = warning.content.decode()
    assert "Support inbound: route" in text
    assert "will take its error path" in text
    task.refresh_from_db()
    assert task.state == NodeAuthorization.State.AUTHORIZED

    confirmed = revoke_in_console(client, task, confirm="yes")

    assert confirmed.status_code == 302
    task.refresh_from_db()
    assert task.state == NodeAuthorization.State.UNAUTHORIZED


def test_an_outsider_cannot_revoke_another_tenants_authorization(
    client, tenant, outsider, authorized
):
    task = NodeAuthorization.objects.get(tenant=tenant, node=AuthorizableNode.TASK)
    sign_in(client, outsider.email)

    revoke_in_console(client, task, confirm="yes")

    task.refresh_from_db()
    assert task.state == NodeAuthorization.State.AUTHORIZED


def test_the_api_names_the_flows_a_revocation_touches_and_asks_for_confirmation(
    tenant, owner, outsider, publish, api_as
):
    version = publish(ROUTE_WITH_ERROR_PATH)
    api = api_as(owner)

    asked = api.post(
        "/api/v1/flow-node-authorizations/revoke/",
        {"tenant": tenant.pk, "node": "task"},
        format="json",
    )
    task = NodeAuthorization.objects.get(tenant=tenant, node=AuthorizableNode.TASK)
    assert asked.status_code == 409
    assert asked.json()["flows"] == [
        {"id": version.flow.pk, "name": "Support inbound", "nodes": ["route"]}
    ]
    assert task.state == NodeAuthorization.State.AUTHORIZED

    stranger = api_as(outsider).post(
        "/api/v1/flow-node-authorizations/revoke/",
        {"tenant": tenant.pk, "node": "task", "confirm": True},
        format="json",
    )
    assert stranger.status_code == 404

    done = api.post(
        "/api/v1/flow-node-authorizations/revoke/",
        {"tenant": tenant.pk, "node": "task", "confirm": True},
        format="json",
    )
    assert done.status_code == 200
    task.refresh_from_db()
    assert task.state == NodeAuthorization.State.UNAUTHORIZED
