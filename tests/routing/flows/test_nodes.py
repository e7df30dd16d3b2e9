"""Every node type, along its flow path and its error path."""

from datetime import UTC, datetime

import pytest
import time_machine

from channels_app.models import Conversation, Message
from routing.flows import services
from routing.flows.models import BusinessCalendar, FlowRun
from tests.routing.flows.conftest import flow_doc

pytestmark = pytest.mark.django_db

DONE = {
    "type": "set_variables",
    "assignments": [{"name": "outcome", "value": "done"}],
    "next": None,
}
FAILED = {
    "type": "set_variables",
    "assignments": [{"name": "outcome", "value": "error path"}],
    "next": None,
}


def run(publish, conversation, nodes, variables=None, message=None):
    version = publish(flow_doc({**nodes, "done": DONE, "failed": FAILED}, variables=variables))
    return services.flow_run_start(
        version=version, conversation=conversation, trigger="inbound_message", message=message
    )


def path_of(run_: FlowRun) -> list[tuple[str, str]]:
    return [(step.node_id, step.path) for step in run_.steps.order_by("seq")]


def outcome(conversation) -> str:
    conversation.refresh_from_db()
    return conversation.variables.get("outcome")


def inbound(conversation, text: str) -> Message:
    return Message.objects.create(
        tenant=conversation.tenant,
        conversation=conversation,
        asset=conversation.asset,
        direction="in",
        author_kind="customer",
        text=text,
        status="received",
    )


def test_start_node_follows_its_flow_path(publish, conversation):
    result = run(publish, conversation, {"noop": {**DONE}})
    assert path_of(result)[0] == ("start", "flow")
    assert result.status == FlowRun.Status.COMPLETED


def test_evaluate_takes_the_first_matching_branch_on_message_content(publish, conversation):
    nodes = {
        "check": {
            "type": "evaluate",
            "branches": [
                {
                    "name": "refund",
                    "conditions": [
                        {
                            "value_of": "message.text",
                            "operator": "contains",
                            "value": "refund",
                            "ignore_case": True,
                        }
                    ],
                    "next": "done",
                }
            ],
            "next": "failed",
        }
    }
    result = run(publish, conversation, nodes, message=inbound(conversation, "I want a REFUND"))
    assert ("check", "refund") in path_of(result)
    assert outcome(conversation) == "done"


def test_evaluate_takes_the_default_path_when_no_branch_matches(publish, conversation):
    nodes = {
        "check": {
            "type": "evaluate",
            "branches": [
                {
                    "name": "vip",
                    "match": "any",
                    "conditions": [
                        {"value_of": "tier", "operator": "equals", "value": "gold"},
                        {"value_of": "spend", "operator": "gte", "value": 1000},
                    ],
                    "next": "failed",
                }
            ],
            "next": "done",
        }
    }
    variables = [
        {"name": "tier", "type": "string", "default": "basic"},
        {"name": "spend", "type": "number", "default": 10},
    ]
    result = run(publish, conversation, nodes, variables=variables)
    assert ("check", "default") in path_of(result)
    assert outcome(conversation) == "done"


def test_evaluate_takes_the_error_path_when_a_condition_cannot_be_compared(publish, conversation):
    nodes = {
        "check": {
            "type": "evaluate",
            "branches": [
                {
                    "name": "big",
                    "conditions": [{"value_of": "message.text", "operator": "gt", "value": 5}],
                    "next": "done",
                }
            ],
            "next": "done",
            "on_error": "failed",
        }
    }
    result = run(publish, conversation, nodes, message=inbound(conversation, "not a number"))
    step = result.steps.get(node_id="check")
    assert step.path == "error" and "not a number" in step.error
    assert outcome(conversation) == "error path"


def test_set_variables_stores_typed_values_on_the_conversation(publish, conversation):
    nodes = {
        "set": {
            "type": "set_variables",
            "assignments": [
                {"name": "age", "value": "42"},
                {"name": "vip", "value": "yes"},
                {"name": "profile", "value": {"name": "{{customer.name}}", "age": "{{age}}"}},
                {"name": "seen_at", "value": "2026-11-25T10:00:00Z"},
            ],
            "next": "done",
        }
    }
    variables = [
        {"name": "age", "type": "number"},
        {"name": "vip", "type": "boolean"},
        {"name": "profile", "type": "json"},
        {"name": "seen_at", "type": "datetime"},
    ]
    run(publish, conversation, nodes, variables=variables)
    conversation.refresh_from_db()
    assert conversation.variables["age"] == 42
    assert conversation.variables["vip"] is True
    assert conversation.variables["profile"] == {"name": "Dana Customer", "age": 42}
    assert conversation.variables["seen_at"] == "2026-11-25T10:00:00+00:00"


def test_set_variables_takes_the_error_path_on_a_value_of_the_wrong_type(publish, conversation):
    nodes = {
        "set": {
            "type": "set_variables",
            "assignments": [{"name": "age", "value": "{{message.text}}"}],
            "next": "done",
            "on_error": "failed",
        }
    }
    result = run(
        publish,
        conversation,
        nodes,
        variables=[{"name": "age", "type": "number"}],
        message=inbound(conversation, "forty"),
    )
    assert "age" in result.steps.get(node_id="set").error
    assert outcome(conversation) == "error path"
    assert "age" not in conversation.variables


def test_send_message_sends_a_bot_message_with_variables_filled_in(publish, conversation):
    nodes = {
        "hello": {
            "type": "send_message",
            "text": "Hi {{customer.name}}, your ref is {{ref}}.",
            "next": "done",
        }
    }
    run(
        publish,
        conversation,
        nodes,
        variables=[{"name": "ref", "type": "string", "default": "A-7"}],
    )
    message = Message.objects.get(conversation=conversation, direction="out")
    assert message.author_kind == "bot"
    assert message.text == "Hi Dana Customer, your ref is A-7."


def test_send_message_takes_the_error_path_when_the_channel_refuses(publish, conversation):
    Conversation.objects.filter(pk=conversation.pk).update(status="closed")
    nodes = {"hello": {"type": "send_message", "text": "Hi", "next": "done", "on_error": "failed"}}
    result = run(publish, conversation, nodes)
    assert "closed" in result.steps.get(node_id="hello").error
    assert not Message.objects.filter(conversation=conversation, direction="out").exists()
    assert outcome(conversation) == "error path"


WAIT = {
    "ask": {
        "type": "wait_for_reply",
        "timeout_seconds": 60,
        "save_as": "answer",
        "next": "done",
        "on_timeout": "failed",
    }
}


def test_wait_for_reply_stores_the_reply_and_follows_the_flow_path(publish, conversation):
    result = run(publish, conversation, WAIT, variables=[{"name": "answer", "type": "string"}])
    assert result.status == FlowRun.Status.WAITING and result.current_node == "ask"
    services.flow_inbound_message_handle(message_id=inbound(conversation, "Deutsch").pk)
    result.refresh_from_db()
    assert result.status == FlowRun.Status.COMPLETED
    assert ("ask", "reply") in path_of(result)
    conversation.refresh_from_db()
    assert (
        conversation.variables["answer"] == "Deutsch"
        and conversation.variables["outcome"] == "done"
    )


def test_wait_for_reply_times_out_through_the_sweep_exactly_once(publish, conversation):
    with time_machine.travel(datetime(2026, 11, 25, 9, 0, tzinfo=UTC), tick=False):
        result = run(publish, conversation, WAIT)
    with time_machine.travel(datetime(2026, 11, 25, 9, 0, 59, tzinfo=UTC), tick=False):
        assert services.flow_runs_time_out_due() == 0
    with time_machine.travel(datetime(2026, 11, 25, 9, 1, 1, tzinfo=UTC), tick=False):
        from routing.flows.tasks import sweep_flow_timers

        assert sweep_flow_timers.delay().get() == 1
        assert services.flow_runs_time_out_due() == 0
    result.refresh_from_db()
    assert ("ask", "timeout") in path_of(result)
    assert outcome(conversation) == "error path"


def test_http_request_maps_the_json_response_into_variables(publish, conversation, http_server):
    http_server.routes["/customers"] = (200, {"customer": {"tier": "gold", "orders": 3}}, 0)
    nodes = {
        "lookup": {
            "type": "http_request",
            "method": "POST",
            "url": http_server.url + "/customers",
            "headers": {"X-Ref": "{{conversation.uuid}}"},
            "body": {"name": "{{customer.name}}", "vars": "{{first}}"},
            "response_mapping": {"tier": "body.customer.tier", "orders": "body.customer.orders"},
            "next": "done",
            "on_error": "failed",
        }
    }
    variables = [
        {"name": "tier", "type": "string"},
        {"name": "orders", "type": "number"},
        {"name": "first", "type": "json", "default": {"a": 1}},
    ]
    run(publish, conversation, nodes, variables=variables)
    request = http_server.requests[0]
    assert request["body"] == {"name": "Dana Customer", "vars": {"a": 1}}
    assert request["headers"]["X-Ref"] == str(conversation.uuid)
    conversation.refresh_from_db()
    assert conversation.variables["tier"] == "gold" and conversation.variables["orders"] == 3
    assert conversation.variables["outcome"] == "done"


def test_http_request_takes_the_error_path_on_a_non_2xx_answer(publish, conversation, http_server):
    http_server.routes["/customers"] = (503, {"error": "down"}, 0)
    nodes = {
        "lookup": {
            "type": "http_request",
            "method": "GET",
            "url": http_server.url + "/customers",
            "next": "done",
            "on_error": "failed",
        }
    }
    result = run(publish, conversation, nodes)
    step = result.steps.get(node_id="lookup")
    assert step.path == "error" and "503" in step.error and step.outputs == {"status": 503}
    assert outcome(conversation) == "error path"


def test_http_request_takes_the_error_path_when_it_times_out(publish, conversation, http_server):
    http_server.routes["/slow"] = (200, {}, 1.0)
    nodes = {
        "lookup": {
            "type": "http_request",
            "method": "GET",
            "url": http_server.url + "/slow",
            "timeout_seconds": 0.2,
            "next": "done",
            "on_error": "failed",
        }
    }
    result = run(publish, conversation, nodes)
    assert "timed out" in result.steps.get(node_id="lookup").error
    assert outcome(conversation) == "error path"


def test_http_request_to_a_private_address_is_refused_unless_the_operator_allows_it(
    publish, conversation, http_server, settings
):
    settings.OUTBOUND_ALLOWED_HOSTS = []
    http_server.routes["/admin"] = (200, {"secret": "internal"}, 0)
    nodes = {
        "lookup": {
            "type": "http_request",
            "method": "GET",
            "url": http_server.url + "/admin",
            "response_mapping": {"leak": "body.secret"},
            "next": "done",
            "on_error": "failed",
        }
    }
    result = run(publish, conversation, nodes, variables=[{"name": "leak", "type": "string"}])

    step = result.steps.get(node_id="lookup")
    assert step.path == "error" and "a loopback address" in step.error
    assert http_server.requests == []
    conversation.refresh_from_db()
    assert "leak" not in conversation.variables and outcome(conversation) == "error path"


BUSINESS = {
    "hours": {
        "type": "business_hours",
        "calendar": "Berlin office",
        "open": "is_open",
        "closed": "is_closed",
        "holiday": "is_holiday",
        "on_error": "failed",
    },
    "is_open": {"type": "set_variables", "assignments": [{"name": "outcome", "value": "open"}]},
    "is_closed": {"type": "set_variables", "assignments": [{"name": "outcome", "value": "closed"}]},
    "is_holiday": {
        "type": "set_variables",
        "assignments": [{"name": "outcome", "value": "holiday"}],
    },
}


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (
            datetime(2026, 11, 25, 9, 30, tzinfo=UTC),
            "open",
        ),  # Wednesday 10:30 in Berlin
        (datetime(2026, 11, 25, 17, 30, tzinfo=UTC), "closed"),  # 18:30 in Berlin
        (datetime(2026, 11, 29, 10, 0, tzinfo=UTC), "closed"),  # Sunday
        (datetime(2026, 12, 25, 10, 0, tzinfo=UTC), "holiday"),
    ],
)
def test_business_hours_branches_on_the_tenant_calendar(
    publish, conversation, tenant, moment, expected
):
    weekdays = {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
    BusinessCalendar.objects.create(
        tenant=tenant,
        name="Berlin office",
        timezone="Europe/Berlin",
        hours=weekdays,
        holidays=["2026-12-25"],
    )
    with time_machine.travel(moment, tick=False):
        run(publish, conversation, BUSINESS)
    assert outcome(conversation) == expected


def test_business_hours_takes_the_error_path_without_its_calendar(publish, conversation):
    result = run(publish, conversation, BUSINESS)
    assert "Berlin office" in result.steps.get(node_id="hours").error
    assert outcome(conversation) == "error path"


def test_queue_task_enqueues_by_queue_name_with_skills_and_priority(publish, conversation, queues):
    from routing.models import Skill, Task

    Skill.objects.create(tenant=conversation.tenant, name="Spanish", type="boolean")
    nodes = {
        "queue": {
            "type": "queue_task",
            "queue": "Support",
            "priority": "{{prio}}",
            "requirements": [{"skill": "Spanish", "operator": "is", "value": True}],
            "relaxation_steps": [{"after_seconds": 30, "skill": "Spanish", "action": "drop"}],
            "next": "done",
            "on_error": "failed",
        }
    }
    result = run(
        publish, conversation, nodes, variables=[{"name": "prio", "type": "number", "default": 2}]
    )
    task = Task.objects.get(conversation=conversation)
    assert task.queue == queues["Support"] and task.priority == 2
    assert result.steps.get(node_id="queue").outputs == {"task_id": task.pk, "queue": "Support"}
    assert outcome(conversation) == "done"


def test_queue_task_takes_the_error_path_for_a_queue_the_tenant_lacks(
    publish, conversation, queues
):
    from routing.models import Task

    nodes = {
        "queue": {"type": "queue_task", "queue": "Billing", "next": "done", "on_error": "failed"}
    }
    result = run(publish, conversation, nodes)
    assert "Billing" in result.steps.get(node_id="queue").error
    assert not Task.objects.filter(conversation=conversation).exists()
    assert outcome(conversation) == "error path"


def test_close_conversation_closes_with_the_wrap_up_code(publish, conversation):
    nodes = {
        "bye": {
            "type": "close_conversation",
            "reason": "self_service",
            "wrap_up_code": "{{code}}",
            "next": "done",
            "on_error": "failed",
        }
    }
    run(
        publish,
        conversation,
        nodes,
        variables=[{"name": "code", "type": "string", "default": "FAQ"}],
    )
    conversation.refresh_from_db()
    assert conversation.status == "closed" and conversation.wrap_up_code == "FAQ"
    assert conversation.variables["outcome"] == "done"


def test_close_conversation_takes_the_error_path_when_already_closed(publish, conversation):
    Conversation.objects.filter(pk=conversation.pk).update(status="closed")
    nodes = {"bye": {"type": "close_conversation", "next": "done", "on_error": "failed"}}
    result = run(publish, conversation, nodes)
    assert "already closed" in result.steps.get(node_id="bye").error
    assert outcome(conversation) == "error path"
