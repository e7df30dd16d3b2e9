"""Global and flow variables: flags, types, agent edits running "task modified", and the main
flow's variables reaching the event flows as one embedded JSON object."""

import pytest
from django.core.exceptions import ValidationError

from routing.flows import selectors, services
from routing.flows.models import FlowRun, GlobalVariable
from tests.routing.flows.conftest import flow_doc

pytestmark = pytest.mark.django_db

MAIN_VARIABLES = [
    {
        "name": "language",
        "type": "string",
        "default": "en",
        "agent_visible": True,
        "agent_editable": True,
    },
    {"name": "order_total", "type": "number", "agent_visible": True},
    {"name": "secret_score", "type": "number", "default": 7},
    {
        "name": "vip",
        "type": "boolean",
        "agent_visible": True,
        "agent_editable": True,
        "reportable": True,
    },
]


@pytest.fixture
def main_run(publish, conversation, tenant):
    GlobalVariable.objects.create(
        tenant=tenant,
        name="region",
        type="string",
        default="EU",
        agent_visible=True,
        agent_editable=True,
        reportable=True,
    )
    version = publish(
        flow_doc(
            {
                "set": {
                    "type": "set_variables",
                    "assignments": [{"name": "order_total", "value": "99.5"}],
                }
            },
            variables=MAIN_VARIABLES,
        ),
        name="Main",
    )
    return services.flow_run_start(
        version=version, conversation=conversation, trigger="inbound_message"
    )


def test_agents_see_only_agent_visible_variables_with_their_values(main_run, conversation):
    conversation.refresh_from_db()
    seen = {
        v["name"]: v for v in selectors.conversation_variables_for_agent(conversation=conversation)
    }
    assert set(seen) == {"language", "order_total", "region", "vip"}
    assert seen["order_total"] == {
        "name": "order_total",
        "label": "order_total",  # no label declared: the name
        "type": "number",
        "value": 99.5,
        "editable": False,
    }
    assert seen["region"]["value"] == "EU" and seen["region"]["editable"] is True
    assert selectors.conversation_variables_reportable(conversation=conversation) == {
        "region": "EU",
        "vip": None,
    }


def test_an_agent_edits_an_editable_variable_and_the_task_modified_flow_runs(
    main_run, conversation, agent, publish, django_capture_on_commit_callbacks
):
    publish(
        flow_doc(
            {
                "note": {
                    "type": "set_variables",
                    "assignments": [
                        {"name": "change", "value": "{{task.changed}}"},
                        {"name": "seen_language", "value": "{{main_flow.language}}"},
                    ],
                }
            },
            kind="task_modified",
            variables=[{"name": "change", "type": "json"}],
        ),
        name="Modified",
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            services.conversation_variable_set(
                conversation=conversation, name="vip", value="true", agent=agent
            )
            is True
        )
    conversation.refresh_from_db()
    assert conversation.variables["vip"] is True
    assert conversation.variables["change"] == {"vip": {"from": None, "to": True}}
    assert conversation.variables["seen_language"] == "en"
    assert FlowRun.objects.filter(conversation=conversation, trigger="task_modified").count() == 1


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("order_total", 5, "not agent-editable"),
        ("secret_score", 5, "no variable"),
        ("nothing", 5, "no variable"),
        ("vip", "maybe", "boolean"),
    ],
)
def test_an_agent_cannot_edit_what_the_flags_and_types_forbid(
    main_run, conversation, agent, name, value, message
):
    before = dict(type(conversation).objects.get(pk=conversation.pk).variables)
    with pytest.raises(ValidationError, match=message):
        services.conversation_variable_set(
            conversation=conversation, name=name, value=value, agent=agent
        )
    assert type(conversation).objects.get(pk=conversation.pk).variables == before


def test_event_flows_receive_the_main_flow_variables_as_one_embedded_json_object(
    main_run, conversation, publish
):
    publish(
        flow_doc(
            {
                "keep": {
                    "type": "set_variables",
                    "assignments": [
                        {"name": "snapshot", "value": "{{main_flow}}"},
                        {"name": "as_text", "value": "total={{main_flow.order_total}}"},
                    ],
                }
            },
            kind="task_closed",
            variables=[{"name": "snapshot", "type": "json"}],
        ),
        name="Closed",
    )
    run = services.flow_event_run(
        conversation_id=conversation.pk, kind="task_closed", data={"task_id": 1}
    )
    conversation.refresh_from_db()
    snapshot = conversation.variables["snapshot"]
    assert (
        snapshot["order_total"] == 99.5
        and snapshot["language"] == "en"
        and snapshot["region"] == "EU"
    )
    assert conversation.variables["as_text"] == "total=99.5"
    assert run.trigger == "task_closed" and run.status == FlowRun.Status.COMPLETED


def test_routing_accepting_a_task_runs_the_task_routed_flow(
    main_run, conversation, queues, agent, django_capture_on_commit_callbacks
):
    from routing import events as routing_events
    from routing.services import task_enqueue

    services.flow_import_template(tenant=conversation.tenant, template_name="task_routed_event")
    task = task_enqueue(conversation=conversation, queue=queues["Support"])
    with django_capture_on_commit_callbacks(execute=True):
        routing_events.emit_one(
            task_id=task.pk,
            tenant_id=conversation.tenant_id,
            conversation_id=conversation.pk,
            kind="accepted",
            agent_id=agent.pk,
            queue_id=queues["Support"].pk,
        )
    run = FlowRun.objects.get(conversation=conversation, trigger="task_routed")
    conversation.refresh_from_db()
    assert run.status == FlowRun.Status.COMPLETED
    assert (
        conversation.variables["routed_agent"] == agent.pk and conversation.variables["routed_at"]
    )


def test_global_variables_are_validated_for_type_flags_and_names(tenant):
    with pytest.raises(ValidationError) as caught:
        services.global_variable_save(
            variable=GlobalVariable(
                tenant=tenant, name="message", type="number", default="ten", agent_editable=True
            )
        )
    assert set(caught.value.message_dict) == {"name", "default", "agent_editable"}
    saved = services.global_variable_save(
        variable=GlobalVariable(
            tenant=tenant, name="opened", type="datetime", default="2026-01-01T08:00:00Z"
        )
    )
    assert saved.default == "2026-01-01T08:00:00+00:00"
    with pytest.raises(ValidationError, match="already exists"):
        services.global_variable_save(
            variable=GlobalVariable(tenant=tenant, name="opened", type="string")
        )
