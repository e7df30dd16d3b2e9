"""The inbound pipeline: a signed webhook from a new customer is normalized, runs its entry point
flow, is routed and greeted in one task, exactly once, and only ever to its own tenant's agents."""

import copy
import json
import time
from pathlib import Path

import pytest
from celery.signals import task_prerun
from django.test import Client

from channels_app.models import InboundEvent, Message
from routing.flows import services as flow_services
from routing.flows.models import AuthorizableNode, FlowRun, GlobalVariable
from routing.models import Offer, Task
from tests.channels_app.conftest import post_meta
from tests.routing.factories import make_agent, make_queue, make_team
from tests.routing.flows.conftest import whatsapp_wired
from tests.routing.test_concurrency import make_available

pytestmark = pytest.mark.django_db(transaction=True)

FIXTURE = Path(__file__).resolve().parents[3] / (
    "channels_app/providers/whatsapp/tests/fixtures/text.json"
)


def whatsapp_text(*, wamid: str, sender: str, name: str) -> dict:
    payload = copy.deepcopy(json.loads(FIXTURE.read_text()))
    value = payload["entry"][0]["changes"][0]["value"]
    value["metadata"]["phone_number_id"] = "1000077"
    value["contacts"][0] = {"profile": {"name": name}, "wa_id": sender}
    value["messages"][0].update({"id": wamid, "from": sender, "timestamp": str(int(time.time()))})
    return payload


@pytest.fixture
def tasks_run():
    names: list[str] = []

    def record(sender=None, **_):
        names.append(sender.name)

    task_prerun.connect(record, weak=False)
    yield names
    task_prerun.disconnect(record)


@pytest.fixture
def whatsapp(authorized, http_server):
    """Acme's WhatsApp number whose entry point runs the shipped inbound flow into Support, which
    one available agent serves; the provider's API is the local HTTP server."""
    tenant = authorized
    asset = whatsapp_wired(
        tenant=tenant,
        http_server=http_server,
        phone_number_id="1000077",
        name="Acme WhatsApp",
        app_secret="acme-app-secret",
    )
    team = make_team(tenant=tenant, max_social=3)
    make_queue(tenant=tenant, teams=[team], name="Support", channel_type="social")
    make_queue(tenant=tenant, teams=[team], name="Default", channel_type="social", default=True)
    agent = make_agent(tenant=tenant, team=team, name="Bea")
    make_available(agent)
    return asset, agent


def test_a_new_conversation_is_run_offered_and_greeted_in_one_task(
    whatsapp, http_server, tasks_run
):
    asset, agent = whatsapp
    response = post_meta(
        Client(), asset, whatsapp_text(wamid="wamid.A1", sender="4915100000101", name="Eva")
    )
    assert response.status_code == 200
    assert tasks_run == ["channels_app.tasks.process_inbound_event"]
    event = InboundEvent.objects.get(asset=asset)
    assert event.status == InboundEvent.Status.PROCESSED
    inbound = Message.objects.get(asset=asset, direction="in")
    run = FlowRun.objects.get(conversation=inbound.conversation)
    assert run.status == FlowRun.Status.COMPLETED, run.error
    task = Task.objects.get(conversation=inbound.conversation)
    offer = Offer.objects.get(task=task)
    assert offer.agent == agent and offer.status == "pending"
    greeting = Message.objects.get(conversation=inbound.conversation, direction="out")
    assert greeting.status == "sent" and greeting.provider_message_id == "wamid.OUT"
    assert [r["path"] for r in http_server.requests] == ["/1000077/messages"]


def test_the_offer_is_made_before_the_greeting_waits_for_the_provider(whatsapp, http_server):
    asset, agent = whatsapp
    # The provider takes half a second to accept the greeting.
    http_server.routes["/1000077/messages"] = (200, {"messages": [{"id": "wamid.SLOW"}]}, 0.5)
    post_meta(Client(), asset, whatsapp_text(wamid="wamid.B1", sender="4915100000102", name="Ivo"))
    offer = Offer.objects.get(agent=agent)
    greeting = Message.objects.get(direction="out", conversation__asset=asset)
    assert greeting.status == "sent"
    assert (greeting.sent_at - offer.created_at).total_seconds() >= 0.4


def test_a_redelivered_webhook_stores_runs_and_offers_nothing_twice(whatsapp, tasks_run):
    asset, agent = whatsapp
    payload = whatsapp_text(wamid="wamid.C1", sender="4915100000103", name="Uli")
    for _ in range(2):
        assert post_meta(Client(), asset, payload).status_code == 200
    assert tasks_run == ["channels_app.tasks.process_inbound_event"]
    assert Message.objects.filter(asset=asset, direction="in").count() == 1
    assert FlowRun.objects.filter(conversation__asset=asset).count() == 1
    assert Offer.objects.filter(agent=agent).count() == 1
    assert Message.objects.filter(conversation__asset=asset, direction="out").count() == 1


def test_an_outsiders_available_agent_is_never_offered_another_tenants_contact(
    whatsapp, other_tenant
):
    asset, agent = whatsapp
    team = make_team(tenant=other_tenant, max_social=3)
    make_queue(tenant=other_tenant, teams=[team], name="Support", channel_type="social")
    stranger = make_agent(tenant=other_tenant, team=team, name="Mallory")
    make_available(stranger)
    post_meta(Client(), asset, whatsapp_text(wamid="wamid.E1", sender="4915100000105", name="Kai"))
    assert Offer.objects.filter(agent=stranger).count() == 0
    assert Offer.objects.get(task__conversation__asset=asset).agent == agent


def test_a_new_conversation_costs_a_bounded_number_of_queries(
    whatsapp, django_assert_max_num_queries
):
    asset, agent = whatsapp
    # Warm the lookups a running worker has already made (content types, the flow's version).
    post_meta(Client(), asset, whatsapp_text(wamid="wamid.F0", sender="4915100000106", name="Pia"))
    with django_assert_max_num_queries(55):
        post_meta(
            Client(), asset, whatsapp_text(wamid="wamid.F1", sender="4915100000107", name="Jan")
        )
    assert Offer.objects.filter(agent=agent).count() == 2


def test_a_new_conversation_starts_with_its_own_tenants_global_variable_defaults(
    whatsapp, other_tenant
):
    asset, _ = whatsapp
    GlobalVariable.objects.create(tenant=asset.tenant, name="tier", type="string", default="std")
    GlobalVariable.objects.create(tenant=other_tenant, name="leak", type="string", default="x")
    post_meta(Client(), asset, whatsapp_text(wamid="wamid.G1", sender="4915100000108", name="Ada"))
    conversation = Message.objects.get(asset=asset, direction="in").conversation
    assert conversation.variables["tier"] == "std"
    assert "leak" not in conversation.variables


def test_a_revoked_node_stops_a_new_conversations_flow_though_another_tenant_has_it(
    whatsapp, owner, other_tenant
):
    asset, agent = whatsapp
    flow_services.node_authorization_authorize(
        tenant=other_tenant, node=AuthorizableNode.TASK, user=None
    )
    flow_services.node_authorization_revoke(
        tenant=asset.tenant, node=AuthorizableNode.TASK, user=owner
    )
    post_meta(Client(), asset, whatsapp_text(wamid="wamid.H1", sender="4915100000109", name="Bo"))
    run = FlowRun.objects.get(conversation__asset=asset)
    revoked = [s for s in run.steps.all() if s.node_type == "queue_task"]
    assert revoked and all(s.path == "error" for s in revoked)
    assert 'the "task" node authorization was revoked' in revoked[0].error
    assert not Task.objects.filter(conversation__asset=asset, queue__name="Support").exists()


def test_a_second_message_of_the_same_customer_neither_restarts_the_flow_nor_queues_twice(
    whatsapp, tasks_run
):
    asset, agent = whatsapp
    post_meta(Client(), asset, whatsapp_text(wamid="wamid.J1", sender="4915100000110", name="Cy"))
    post_meta(Client(), asset, whatsapp_text(wamid="wamid.J2", sender="4915100000110", name="Cy"))
    assert Message.objects.filter(asset=asset, direction="in").count() == 2
    assert (
        Message.objects.filter(asset=asset, direction="in")
        .values("conversation")
        .distinct()
        .count()
        == 1
    )
    assert FlowRun.objects.filter(conversation__asset=asset).count() == 1
    assert Task.objects.filter(conversation__asset=asset).count() == 1
    assert Offer.objects.filter(agent=agent).count() == 1


def test_a_changed_entry_flow_version_is_what_the_next_new_conversation_runs(whatsapp, owner):
    asset, _ = whatsapp
    post_meta(Client(), asset, whatsapp_text(wamid="wamid.K1", sender="4915100000111", name="Di"))
    first = FlowRun.objects.get(conversation__asset=asset)
    newer = flow_services.flow_version_create(
        flow=first.flow, definition=first.flow_version.definition, user=owner
    )
    flow_services.flow_version_publish(version=newer, user=owner)
    post_meta(Client(), asset, whatsapp_text(wamid="wamid.K2", sender="4915100000112", name="Ed"))
    second = FlowRun.objects.exclude(pk=first.pk).get(conversation__asset=asset)
    assert second.flow_version_id == newer.pk != first.flow_version_id
