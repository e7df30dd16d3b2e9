"""The dry run: a sample message, the path taken and the variables set, nothing real touched."""

import pytest

from channels_app.models import Message
from routing.flows import services
from routing.flows.models import FlowRun
from routing.flows.templates import template_load

pytestmark = pytest.mark.django_db


def test_a_dry_run_shows_the_path_and_variables_without_touching_queues(tenant, queues):
    from routing.models import Task

    result = services.flow_dry_run(
        tenant=tenant,
        definition=template_load("whatsapp_inbound"),
        text="Guten Tag, ich brauche Hilfe",
    )
    assert result["status"] == "completed"
    assert [step["node"] for step in result["path"]] == [
        "start",
        "remember",
        "detect_language",
        "set_german",
        "choose_greeting",
        "greet_de",
        "queue",
    ]
    assert result["variables"]["language"] == "de"
    assert result["variables"]["first_message"] == "Guten Tag, ich brauche Hilfe"
    assert [a["action"] for a in result["actions"]] == ["send_message", "queue_task"]
    assert result["actions"][0]["text"].startswith("Hallo Sample Customer, danke")
    assert result["actions"][1]["queue"] == "Support"
    assert (
        not Task.objects.exists() and not Message.objects.exists() and not FlowRun.objects.exists()
    )


def test_a_dry_run_answers_wait_nodes_from_the_sample_replies_then_times_out(tenant, queues):
    definition = template_load("chat_inbound")
    answered = services.flow_dry_run(
        tenant=tenant, definition=definition, text="hello", replies=["2"], channel="chat"
    )
    assert ("wait_language", "reply") in [(s["node"], s["path"]) for s in answered["path"]]
    assert answered["variables"]["language"] == "es"
    silent = services.flow_dry_run(
        tenant=tenant, definition=definition, text="hello", channel="chat"
    )
    assert ("wait_language", "timeout") in [(s["node"], s["path"]) for s in silent["path"]]
    assert silent["variables"]["language"] == "en"


def test_a_dry_run_shows_a_missing_queue_as_an_error_and_the_default_queue_fallback(tenant, queues):
    definition = template_load("sms_inbound")
    definition["nodes"]["queue"]["queue"] = "Nowhere"
    result = services.flow_dry_run(tenant=tenant, definition=definition, text="hi")
    assert result["status"] == "failed" and "Nowhere" in result["error"]
    assert result["actions"][-1] == {"action": "queue_task", "queue": "(default queue)"}
