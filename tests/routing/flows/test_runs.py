"""Flow runs: what they store, failures that never lose the contact, version pinning, and an
inbound message running a shipped template end to end into a queue."""

import pytest

from channels_app.models import Message
from channels_app.providers.base import InboundMessage
from channels_app.services import inbound_message_store
from routing.flows import services
from routing.flows.models import FlowRun, FlowVersion
from tests.routing.flows.conftest import flow_doc, open_conversation, whatsapp_wired

pytestmark = pytest.mark.django_db


def test_a_run_stores_every_node_with_inputs_outputs_and_path(publish, conversation, queues):
    version = publish(
        flow_doc(
            {
                "set": {
                    "type": "set_variables",
                    "assignments": [{"name": "topic", "value": "{{message.text}}"}],
                    "next": "route",
                },
                "route": {"type": "queue_task", "queue": "Support", "priority": 3, "next": None},
            },
            variables=[{"name": "topic", "type": "string"}],
        )
    )
    run = services.flow_run_start(
        version=version, conversation=conversation, trigger="inbound_message"
    )
    steps = list(run.steps.order_by("seq"))
    assert [(s.seq, s.node_id, s.path, s.next_node) for s in steps] == [
        (1, "start", "flow", "set"),
        (2, "set", "flow", "route"),
        (3, "route", "flow", ""),
    ]
    assert steps[2].inputs["queue"] == "Support" and steps[2].inputs["priority"] == 3
    assert run.status == FlowRun.Status.COMPLETED and run.step_count == 3 and run.finished_at


def test_a_failing_node_without_error_path_sends_the_contact_to_the_default_queue(
    publish, conversation, queues
):
    from routing.models import Task

    version = publish(flow_doc({"route": {"type": "queue_task", "queue": "Nope", "next": None}}))
    run = services.flow_run_start(
        version=version, conversation=conversation, trigger="inbound_message"
    )
    assert run.status == FlowRun.Status.FAILED
    assert "Nope" in run.error
    task = Task.objects.get(conversation=conversation)
    assert task.queue == queues["Default"]
    fallback = run.steps.get(node_id="default_queue")
    assert fallback.path == "fallback" and fallback.outputs["queue"] == "Default"


def test_a_loop_is_stopped_and_the_contact_still_reaches_the_default_queue(
    publish, conversation, queues
):
    from routing.models import Task

    version = publish(
        flow_doc(
            {
                "a": {
                    "type": "set_variables",
                    "assignments": [{"name": "n", "value": "1"}],
                    "next": "b",
                },
                "b": {
                    "type": "set_variables",
                    "assignments": [{"name": "n", "value": "2"}],
                    "next": "a",
                },
            }
        )
    )
    run = services.flow_run_start(
        version=version, conversation=conversation, trigger="inbound_message"
    )
    assert run.status == FlowRun.Status.FAILED and "loop" in run.error
    assert Task.objects.get(conversation=conversation).queue == queues["Default"]


def test_published_versions_are_immutable(publish):
    version = publish(
        flow_doc({"a": {"type": "set_variables", "assignments": [{"name": "x", "value": 1}]}})
    )
    with pytest.raises(services.ValidationError, match="published"):
        services.flow_version_update(version=version, definition=version.definition)


def test_a_waiting_conversation_resumes_on_the_version_it_started_with(
    publish, conversation, owner
):
    ask = {
        "type": "wait_for_reply",
        "timeout_seconds": 300,
        "save_as": "answer",
        "next": "after",
        "on_timeout": None,
    }
    v1 = publish(
        flow_doc(
            {
                "ask": ask,
                "after": {
                    "type": "set_variables",
                    "assignments": [{"name": "version", "value": "one"}],
                },
            },
            variables=[{"name": "answer", "type": "string"}],
        ),
        name="Pinned",
    )
    run = services.flow_run_start(version=v1, conversation=conversation, trigger="inbound_message")
    v2 = publish(
        flow_doc(
            {
                "ask": ask,
                "after": {
                    "type": "set_variables",
                    "assignments": [{"name": "version", "value": "two"}],
                },
            },
            variables=[{"name": "answer", "type": "string"}],
        ),
        name="Pinned",
    )
    assert v2.flow == v1.flow and v2.number == 2
    reply = Message.objects.create(
        tenant=conversation.tenant,
        conversation=conversation,
        asset=conversation.asset,
        direction="in",
        author_kind="customer",
        text="yes",
        status="received",
    )
    services.flow_inbound_message_handle(message_id=reply.pk)
    run.refresh_from_db()
    conversation.refresh_from_db()
    assert run.flow_version == v1 and conversation.variables["version"] == "one"
    newcomer = open_conversation(conversation.asset, address="4915100000002")
    assert (
        services.flow_run_start(
            version=v2, conversation=newcomer, trigger="inbound_message"
        ).flow_version
        == v2
    )


def test_a_new_inbound_message_runs_the_shipped_whatsapp_template_into_the_queue(
    authorized, queues, http_server, django_capture_on_commit_callbacks
):
    from routing.models import Task

    tenant = authorized
    asset = whatsapp_wired(
        tenant=tenant, http_server=http_server, phone_number_id="1000009", sent_id="wamid.OUT1"
    )
    with django_capture_on_commit_callbacks(execute=True):
        message, _ = inbound_message_store(
            asset=asset,
            item=InboundMessage(
                provider_message_id="wamid.IN1",
                sender_address="4915100000042",
                sender_name="Eva",
                text="Hola, necesito ayuda",
            ),
        )
    run = FlowRun.objects.get(conversation=message.conversation)
    assert run.status == FlowRun.Status.COMPLETED, run.error
    assert [s.node_id for s in run.steps.order_by("seq")] == [
        "start",
        "remember",
        "detect_language",
        "set_spanish",
        "choose_greeting",
        "greet_es",
        "queue",
    ]
    task = Task.objects.get(conversation=message.conversation)
    assert task.queue == queues["Support"]
    conversation = message.conversation
    conversation.refresh_from_db()
    assert (
        conversation.variables["language"] == "es"
        and conversation.variables["customer_name"] == "Eva"
    )
    greeting = Message.objects.get(conversation=conversation, direction="out")
    assert greeting.text == (
        "Hola Eva, gracias por escribirnos por WhatsApp. Un agente le atenderá en breve."
    )
    assert http_server.requests
    assert FlowVersion.objects.get(flow=asset.entry_point.flow).status == "published"
    # A second message from the customer does not start the flow again.
    with django_capture_on_commit_callbacks(execute=True):
        inbound_message_store(
            asset=asset,
            item=InboundMessage(
                provider_message_id="wamid.IN2", sender_address="4915100000042", text="hello?"
            ),
        )
    assert FlowRun.objects.filter(conversation=conversation).count() == 1
