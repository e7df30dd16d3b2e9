"""A flow asks on Apple Messages with a list picker (the send-message node's rich content), waits,
and the customer's structured answer sets its variables."""

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from channels_app.models import ChannelAsset, Message
from channels_app.providers.apple import PROVIDER
from channels_app.services.inbound import inbound_message_store
from routing.flows import services
from routing.flows.models import FlowRun
from tenants.realtime import agent_group, tenant_group
from tests.factories import AgentFactory
from tests.routing.flows.conftest import flow_doc, open_conversation

pytestmark = pytest.mark.django_db

FIXTURES = Path(PROVIDER.__module__.replace(".", "/")).parent / "tests" / "fixtures"
CUSTOMER = "urn:mbid:AQAAY0rcustomer0001Xb5VtQ"

NODES = {
    "ask": {
        "type": "send_message",
        "content": {
            "type": "list_picker",
            "title": "Wobei können wir helfen?",
            "items": [
                {"id": "order", "title": "Meine Bestellung"},
                {"id": "other", "title": "Etwas anderes"},
            ],
        },
        "next": "wait",
    },
    "wait": {
        "type": "wait_for_reply",
        "timeout_seconds": 600,
        "save_as": "choice_title",
        "next": "remember",
        "on_timeout": None,
    },
    "remember": {
        "type": "set_variables",
        "assignments": [
            {"name": "choice", "value": "{{message.content.selected_id}}"},
            {"name": "reply_kind", "value": "{{message.content_type}}"},
        ],
        "next": None,
    },
}
VARIABLES = [
    {"name": "choice_title", "type": "string"},
    {"name": "choice", "type": "string"},
    {"name": "reply_kind", "type": "string"},
]


@pytest.fixture
def apple_asset(tenant):
    return ChannelAsset.objects.create(
        tenant=tenant,
        kind="apple",
        name="Acme Apple",
        apple_business_id="4a0c3b5e-8f1f-4c1e-9d7a-2b6e1f0a9c11",
        apple_msp_id="msp",
        apple_msp_secret="c2VjcmV0",
    )


def test_a_list_picker_answer_sets_the_flows_variables(publish, apple_asset):
    conversation = open_conversation(apple_asset, address=CUSTOMER)
    version = publish(flow_doc(NODES, variables=VARIABLES))
    run = services.flow_run_start(
        version=version, conversation=conversation, trigger="inbound_message"
    )
    assert run.status == FlowRun.Status.WAITING, run.error or list(
        run.steps.values("node_id", "error")
    )
    sent = Message.objects.get(conversation=conversation, direction="out")
    assert sent.content["type"] == "list_picker"

    fixture = json.loads((FIXTURES / "list_picker_reply.json").read_text())
    envelope = json.dumps({"headers": fixture["headers"], "message": fixture["body"]})
    [item] = PROVIDER.parse(apple_asset, envelope, "application/json")
    answer, _ = inbound_message_store(asset=apple_asset, item=item)
    services.flow_inbound_message_handle(message_id=answer.pk)

    run.refresh_from_db()
    assert run.status == FlowRun.Status.COMPLETED, run.error
    conversation.refresh_from_db()
    assert conversation.variables["choice"] == "order"
    assert conversation.variables["choice_title"] == "Meine Bestellung"
    assert conversation.variables["reply_kind"] == "list_picker"


@pytest.fixture
def listen():
    """A channel in a group, and what it heard within a second."""
    layer = get_channel_layer()
    joined = []

    def join(group: str) -> Callable[[], list[dict]]:
        channel = async_to_sync(layer.new_channel)()
        async_to_sync(layer.group_add)(group, channel)
        joined.append((group, channel))

        def heard() -> list[dict]:
            messages = []
            while True:
                try:
                    messages.append(
                        async_to_sync(asyncio.wait_for)(layer.receive(channel), timeout=1)
                    )
                except asyncio.TimeoutError:
                    return messages

        return heard

    yield join
    for group, channel in joined:
        async_to_sync(layer.group_discard)(group, channel)


def test_the_owners_desktop_hears_which_visible_variables_the_answer_set(
    publish, apple_asset, agent, other_tenant, listen, django_capture_on_commit_callbacks
):
    stranger = AgentFactory(tenant=other_tenant)
    conversation = open_conversation(apple_asset, address=CUSTOMER)
    conversation.owner = agent
    conversation.save(update_fields=["owner"])
    variables = [dict(v, agent_visible=v["name"] != "reply_kind") for v in VARIABLES]
    version = publish(flow_doc(NODES, variables=variables))
    services.flow_run_start(version=version, conversation=conversation, trigger="inbound_message")
    owners_desktop = listen(agent_group(agent.pk))
    strangers_desktop = listen(agent_group(stranger.pk))
    other_console = listen(tenant_group(other_tenant.pk))

    fixture = json.loads((FIXTURES / "list_picker_reply.json").read_text())
    envelope = json.dumps({"headers": fixture["headers"], "message": fixture["body"]})
    [item] = PROVIDER.parse(apple_asset, envelope, "application/json")
    with django_capture_on_commit_callbacks(execute=True):
        answer, _ = inbound_message_store(asset=apple_asset, item=item)
        services.flow_inbound_message_handle(message_id=answer.pk)

    pushed = [m for m in owners_desktop() if m.get("event") == "conversation.variables"]
    assert [m["payload"] for m in pushed] == [
        {"conversation_id": conversation.pk, "names": ["choice", "choice_title"]}
    ]
    assert strangers_desktop() == []
    assert other_console() == []
