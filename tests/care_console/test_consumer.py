"""The care socket: who may connect, what the snapshot holds, which pushes come through."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from care_console.models import SupervisorScope
from routing.services import agent_state_set
from tenants.realtime import Push, send_event, send_events, tenant_group
from tests.routing.factories import make_agent, make_conversation, make_queue, make_team


def communicator_for(user=None) -> WebsocketCommunicator:
    from config.asgi import application

    headers = [(b"host", b"testserver"), (b"origin", b"http://testserver")]
    if user is not None:
        client = Client()
        client.force_login(user)
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    return WebsocketCommunicator(application, "/ws/care/", headers=headers)


class Floor:
    pass


@pytest.fixture
def floor(tenant, supervisor, outsider, other_tenant, transactional_db):
    f = Floor()
    f.support = make_team(tenant=tenant, name="Support desk")
    f.sales = make_team(tenant=tenant, name="Sales")
    f.queue = make_queue(tenant=tenant, teams=[f.support], name="Support chat")
    f.ann = make_agent(tenant=tenant, team=f.support, name="Ann")
    f.cat = make_agent(tenant=tenant, team=f.sales, name="Cat")
    f.stranger = make_agent(tenant=other_tenant, team=make_team(tenant=other_tenant), name="Max")
    scope = SupervisorScope.objects.create(tenant=tenant, user=supervisor)
    scope.teams.set([f.support])
    scope.queues.set([f.queue])
    f.dana = make_conversation(tenant=tenant, customer_name="Dana")
    f.dana.owner = f.ann
    f.dana.save(update_fields=["owner"])
    f.theirs = make_conversation(tenant=other_tenant, customer_name="Olga")
    return f


async def connected(user):
    ws = await database_sync_to_async(communicator_for)(user)
    ok, _ = await ws.connect()
    assert ok
    return ws


@pytest.mark.asyncio
async def test_strangers_and_agents_are_turned_away(floor):
    ws = await database_sync_to_async(communicator_for)()
    await ws.connect()
    assert (await ws.receive_output(timeout=5))["code"] == 4401
    agent_ws = await database_sync_to_async(communicator_for)(floor.ann.user)
    await agent_ws.connect()
    assert (await agent_ws.receive_output(timeout=5))["code"] == 4403


@pytest.mark.asyncio
async def test_the_snapshot_holds_the_supervisors_agents_and_queues_only(floor, supervisor):
    ws = await connected(supervisor)
    message = await ws.receive_json_from(timeout=10)
    assert message["type"] == "snapshot"
    assert [a["name"] for a in message["data"]["agents"]] == ["Ann"]
    assert message["data"]["agents"][0]["state"] == "signed_out"
    assert [q["name"] for q in message["data"]["queues"]] == ["Support chat"]
    await ws.disconnect()


@pytest.mark.asyncio
async def test_a_state_change_of_a_visible_agent_comes_through_and_a_sync_re_reads(
    floor, supervisor
):
    ws = await connected(supervisor)
    await ws.receive_json_from(timeout=10)
    await database_sync_to_async(agent_state_set)(agent=floor.cat, state="available")
    await database_sync_to_async(agent_state_set)(agent=floor.ann, state="available")
    event = await ws.receive_json_from(timeout=10)
    # Cat (Sales) went first but is not carol's: only Ann's change reaches her.
    assert event["event"] == "routing.agent_state"
    assert event["payload"]["agent_id"] == floor.ann.pk
    await ws.send_json_to({"action": "sync"})
    snapshot = await ws.receive_json_from(timeout=10)
    assert snapshot["data"]["agents"][0]["state"] == "available"
    await ws.disconnect()


@pytest.mark.asyncio
async def test_a_batch_of_pushes_arrives_event_by_event_filtered_to_the_scope(floor, supervisor):
    ws = await connected(supervisor)
    await ws.receive_json_from(timeout=10)
    group = tenant_group(floor.ann.tenant_id)
    # What a sweep sends: several events for one group in one layer message ("push.events").
    batch = [
        Push([group], "routing.agent_state", {"agent_id": agent.pk, "state": "rona"})
        for agent in (floor.cat, floor.ann)
    ]
    await database_sync_to_async(send_events)(batch)

    event = await ws.receive_json_from(timeout=5)
    assert event["event"] == "routing.agent_state" and event["payload"]["agent_id"] == floor.ann.pk
    assert await ws.receive_nothing(timeout=1)  # Cat is in Sales, outside carol's scope
    await ws.disconnect()


@pytest.mark.asyncio
async def test_the_outsider_hears_nothing_of_acme(floor, outsider):
    ws = await connected(outsider)
    snapshot = await ws.receive_json_from(timeout=10)
    assert [a["name"] for a in snapshot["data"]["agents"]] == ["Max"]  # Globex's own agent
    await database_sync_to_async(agent_state_set)(agent=floor.ann, state="available")
    assert await ws.receive_nothing(timeout=1)
    await ws.disconnect()


@pytest.mark.asyncio
async def test_message_pushes_come_through_only_for_a_watched_visible_conversation(
    floor, supervisor
):
    ws = await connected(supervisor)
    await ws.receive_json_from(timeout=10)
    group = tenant_group(floor.dana.tenant_id)
    push = {"conversation_id": floor.dana.pk, "message_id": 1}
    await database_sync_to_async(send_event)(groups=[group], event="message.new", payload=push)
    assert await ws.receive_nothing(timeout=1)

    await ws.send_json_to({"action": "watch", "conversation_id": floor.theirs.pk})
    assert (await ws.receive_json_from(timeout=5))["ok"] is False
    await ws.send_json_to({"action": "watch", "conversation_id": floor.dana.pk})
    assert (await ws.receive_json_from(timeout=5))["ok"] is True
    await database_sync_to_async(send_event)(groups=[group], event="message.new", payload=push)
    event = await ws.receive_json_from(timeout=5)
    assert event["event"] == "message.new" and event["payload"]["conversation_id"] == floor.dana.pk
    await ws.disconnect()


@pytest.mark.asyncio
async def test_unknown_actions_and_malformed_frames_get_a_reason(floor, supervisor):
    ws = await connected(supervisor)
    await ws.receive_json_from(timeout=10)
    await ws.send_json_to({"action": "explode"})
    assert "unknown action" in (await ws.receive_json_from(timeout=5))["error"]
    await ws.send_to(text_data="{not json")
    assert (await ws.receive_json_from(timeout=5))["error"] == "malformed JSON"
    await ws.disconnect()
