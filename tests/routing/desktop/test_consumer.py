"""The desktop socket: authentication, origin, isolation, every action and its errors."""

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async

from channels_app.models import Conversation, Message
from routing.desktop.consumers import CLOSE_NOT_AN_AGENT, CLOSE_NOT_SIGNED_IN
from routing.models import AgentState, Offer, OfferStatus, Task
from tenants.models import IdleCode, WrapUpCode
from tenants.realtime import send_event
from tests.routing.desktop.conftest import communicator_for
from tests.routing.factories import make_agent, make_queue, make_team

pytestmark = pytest.mark.django_db(transaction=True)


async def connected(user):
    communicator = await database_sync_to_async(communicator_for)(user)
    ok, _ = await communicator.connect()
    assert ok
    hello = await communicator.receive_json_from(timeout=5)
    assert hello["type"] == "snapshot"
    return communicator, hello["data"]


async def call(communicator, action, **params):
    await communicator.send_json_to({"action": action, "params": params, "request_id": action})
    while True:
        message = await communicator.receive_json_from(timeout=5)
        if message["type"] == "reply" and message["request_id"] == action:
            return message


async def next_event(communicator, name, timeout=5):
    while True:
        message = await communicator.receive_json_from(timeout=timeout)
        if message["type"] == "event" and message["event"] == name:
            return message["payload"]


async def test_an_anonymous_socket_is_closed_with_4401(db):
    communicator = await database_sync_to_async(communicator_for)(None)
    ok, _ = await communicator.connect()
    assert ok
    closed = await communicator.receive_output(timeout=5)
    assert closed["type"] == "websocket.close" and closed["code"] == CLOSE_NOT_SIGNED_IN


async def test_a_signed_in_user_who_is_not_an_agent_is_closed_with_4403(supervisor):
    communicator = await database_sync_to_async(communicator_for)(supervisor)
    await communicator.connect()
    closed = await communicator.receive_output(timeout=5)
    assert closed["type"] == "websocket.close" and closed["code"] == CLOSE_NOT_AN_AGENT


async def test_a_foreign_origin_is_refused_at_the_handshake(desk):
    communicator = await database_sync_to_async(communicator_for)(
        desk.first.user, origin=b"https://evil.example"
    )
    ok, _ = await communicator.connect()
    assert not ok


async def test_a_socket_without_origin_is_refused(desk):
    communicator = await database_sync_to_async(communicator_for)(desk.first.user, origin=None)
    ok, _ = await communicator.connect()
    assert not ok


async def test_connect_sends_the_whole_desktop_state(desk):
    await database_sync_to_async(desk.available)(desk.first)
    conversation = await database_sync_to_async(desk.waiting)()

    communicator, snapshot = await connected(desk.first.user)

    assert snapshot["state"]["state"] == "available"
    assert [o["conversation_id"] for o in snapshot["offers"]] == [conversation.pk]
    offer = snapshot["offers"][0]
    assert offer["customer_name"] == "Dana Kunde"
    assert offer["channel_kind"] == "whatsapp" and offer["channel_name"] == "WhatsApp"
    assert offer["queue_name"] == "WhatsApp support"
    assert offer["preview"] == "Hallo, ich brauche Hilfe"
    assert offer["expires_at"]
    await communicator.disconnect()


async def test_a_new_offer_is_pushed_to_its_agent_only(desk):
    first, _ = await connected(desk.first.user)
    second, _ = await connected(desk.second.user)
    await database_sync_to_async(desk.available)(desk.first)

    conversation = await database_sync_to_async(desk.waiting)()

    payload = await next_event(first, "routing.offered")
    assert payload["conversation_id"] == conversation.pk
    assert payload["agent_id"] == desk.first.pk
    while not await second.receive_nothing(timeout=0.5):
        message = await second.receive_json_from()
        assert message.get("event") != "routing.offered", "another agent's offer leaked"
    await first.disconnect()
    await second.disconnect()


async def test_an_agent_never_receives_another_tenants_events(desk, other_tenant):
    def other_agent():
        team = make_team(tenant=other_tenant)
        make_queue(tenant=other_tenant, teams=[team])
        return make_agent(tenant=other_tenant, team=team)

    stranger = await database_sync_to_async(other_agent)()
    communicator, _ = await connected(stranger.user)
    await database_sync_to_async(desk.available)(desk.first)
    await database_sync_to_async(desk.waiting)()

    assert await communicator.receive_nothing(timeout=1)
    await communicator.disconnect()


async def test_a_batch_of_pushes_reaches_the_desktop_as_one_frame_per_event(desk):
    from tenants.realtime import Push, agent_group, send_events

    communicator, _ = await connected(desk.first.user)
    group = agent_group(desk.first.pk)
    pushes = [
        Push([group], "routing.rona", {"agent_id": desk.first.pk, "task_id": 1}),
        Push([group], "routing.agent_state", {"agent_id": desk.first.pk, "state": "rona"}),
        # Another agent's event in the same batch is filtered out, as for a single push.
        Push([group], "routing.rona", {"agent_id": desk.second.pk, "task_id": 2}),
    ]
    await sync_to_async(send_events)(pushes)

    frames = [await communicator.receive_json_from(timeout=5) for _ in range(2)]
    assert [(f["event"], f["payload"].get("task_id")) for f in frames] == [
        ("routing.rona", 1),
        ("routing.agent_state", None),
    ]
    assert await communicator.receive_nothing(timeout=0.5)
    await communicator.disconnect()


async def test_accepting_an_offer_makes_the_agent_the_owner(desk):
    await database_sync_to_async(desk.available)(desk.first)
    conversation = await database_sync_to_async(desk.waiting)()
    communicator, snapshot = await connected(desk.first.user)

    reply = await call(communicator, "accept_offer", offer_id=snapshot["offers"][0]["offer_id"])

    assert reply["ok"], reply
    assert reply["data"]["conversation_id"] == conversation.pk
    owner_id = await database_sync_to_async(
        lambda: Conversation.objects.get(pk=conversation.pk).owner_id
    )()
    assert owner_id == desk.first.pk
    state = await call(communicator, "sync")
    assert [c["id"] for c in state["data"]["conversations"]] == [conversation.pk]
    await communicator.disconnect()


async def test_declining_leaves_the_agent_available_and_the_task_waiting(desk):
    await database_sync_to_async(desk.available)(desk.first)
    conversation = await database_sync_to_async(desk.waiting)()
    communicator, snapshot = await connected(desk.first.user)

    reply = await call(communicator, "decline_offer", offer_id=snapshot["offers"][0]["offer_id"])

    assert reply["ok"], reply
    state = await database_sync_to_async(lambda: AgentState.objects.get(agent=desk.first).state)()
    assert state == "available"
    status = await database_sync_to_async(
        lambda: Task.objects.get(conversation=conversation).status
    )()
    assert status in ("waiting", "offered")
    await communicator.disconnect()


async def test_accepting_another_agents_offer_or_a_bad_id_is_an_error(desk):
    await database_sync_to_async(desk.available)(desk.first)
    await database_sync_to_async(desk.waiting)()
    offer_id = await database_sync_to_async(lambda: Offer.objects.get(agent=desk.first).pk)()
    communicator, _ = await connected(desk.second.user)

    stolen = await call(communicator, "accept_offer", offer_id=offer_id)
    bogus = await call(communicator, "accept_offer", offer_id="abc")
    missing = await call(communicator, "accept_offer", offer_id=999999)

    assert not stolen["ok"] and stolen["error"]
    assert not bogus["ok"] and "offer_id" in bogus["error"]
    assert not missing["ok"]
    status = await database_sync_to_async(lambda: Offer.objects.get(pk=offer_id).status)()
    assert status == OfferStatus.PENDING
    await communicator.disconnect()


async def test_a_reply_goes_out_through_the_provider(desk, fake_provider):
    await database_sync_to_async(desk.available)(desk.first)
    conversation = await database_sync_to_async(desk.waiting)()
    communicator, snapshot = await connected(desk.first.user)
    await call(communicator, "accept_offer", offer_id=snapshot["offers"][0]["offer_id"])

    reply = await call(
        communicator, "send_message", conversation_id=conversation.pk, text="Guten Tag!"
    )

    assert reply["ok"], reply["error"]
    message = await database_sync_to_async(
        lambda: Message.objects.get(pk=reply["data"]["message_id"])
    )()
    assert message.author_agent_id == desk.first.pk
    sent = fake_provider.sent_to("whatsapp")
    assert [record["payload"]["text"]["body"] for record in sent] == ["Guten Tag!"]
    await communicator.disconnect()


async def test_an_agent_cannot_write_into_a_conversation_they_do_not_own(desk):
    await database_sync_to_async(desk.available)(desk.first)
    conversation = await database_sync_to_async(desk.waiting)()
    communicator, _ = await connected(desk.second.user)

    reply = await call(communicator, "send_message", conversation_id=conversation.pk, text="hi")
    empty = await call(communicator, "send_message", conversation_id=conversation.pk, text="  ")

    assert reply == {**reply, "ok": False, "error": "not found"}
    assert not empty["ok"]
    count = await database_sync_to_async(
        lambda: Message.objects.filter(conversation=conversation).count()
    )()
    assert count == 1
    await communicator.disconnect()


async def test_state_changes_with_idle_codes_and_their_errors(desk, other_tenant):
    code = await database_sync_to_async(
        lambda: IdleCode.objects.create(tenant=desk.tenant, name="Lunch")
    )()
    foreign = await database_sync_to_async(
        lambda: IdleCode.objects.create(tenant=other_tenant, name="Theirs")
    )()
    communicator, _ = await connected(desk.first.user)

    available = await call(communicator, "set_state", state="available")
    pushed = await next_event(communicator, "routing.agent_state")
    idle = await call(communicator, "set_state", state="idle", idle_code_id=code.pk)
    no_code = await call(communicator, "set_state", state="idle")
    wrong_code = await call(communicator, "set_state", state="idle", idle_code_id=foreign.pk)
    rona = await call(communicator, "set_state", state="rona")
    nonsense = await call(communicator, "set_state", state="sleeping")

    assert available["ok"] and pushed["state"] == "available"
    assert idle["ok"] and idle["data"] == {"state": "idle", "idle_code_id": code.pk}
    assert not no_code["ok"] and "idle code" in no_code["error"]
    assert not wrong_code["ok"] and "No such idle code" in wrong_code["error"]
    assert not rona["ok"] and "RONA" in rona["error"]
    assert not nonsense["ok"]
    state = await database_sync_to_async(lambda: AgentState.objects.get(agent=desk.first))()
    assert (state.state, state.idle_code_id) == ("idle", code.pk)
    await communicator.disconnect()


async def test_closing_with_a_wrap_up_code_closes_the_conversation_and_frees_capacity(desk):
    code = await database_sync_to_async(
        lambda: WrapUpCode.objects.create(tenant=desk.tenant, name="Resolved")
    )()
    await database_sync_to_async(desk.available)(desk.first)
    conversation = await database_sync_to_async(desk.waiting)()
    communicator, snapshot = await connected(desk.first.user)
    await call(communicator, "accept_offer", offer_id=snapshot["offers"][0]["offer_id"])

    without = await call(
        communicator, "close_conversation", conversation_id=conversation.pk, wrap_up_code_id=0
    )
    closed = await call(
        communicator, "close_conversation", conversation_id=conversation.pk, wrap_up_code_id=code.pk
    )

    assert not without["ok"] and "wrap-up" in without["error"]
    assert closed["ok"], closed
    row = await database_sync_to_async(lambda: Conversation.objects.get(pk=conversation.pk))()
    assert (row.status, row.wrap_up_code) == ("closed", "Resolved")
    engaged = await database_sync_to_async(
        lambda: AgentState.objects.get(agent=desk.first).engaged_social
    )()
    assert engaged == 0
    await communicator.disconnect()


async def test_new_messages_and_status_changes_reach_the_owner(desk):
    await database_sync_to_async(desk.available)(desk.first)
    conversation = await database_sync_to_async(desk.waiting)()
    communicator, snapshot = await connected(desk.first.user)
    await call(communicator, "accept_offer", offer_id=snapshot["offers"][0]["offer_id"])

    await database_sync_to_async(send_event)(
        groups=[f"agent.{desk.first.pk}"],
        event="message.new",
        payload={"conversation_id": conversation.pk, "message_id": 1},
    )

    payload = await next_event(communicator, "message.new")
    assert payload["conversation_id"] == conversation.pk
    await communicator.disconnect()


async def test_malformed_frames_and_unknown_actions_get_a_clear_error(desk):
    communicator, _ = await connected(desk.first.user)

    await communicator.send_to(text_data="{not json")
    malformed = await communicator.receive_json_from(timeout=5)
    unknown = await call(communicator, "launch_rockets")
    await communicator.send_json_to({"action": "sync", "params": [1, 2], "request_id": "p"})
    bad_params = await communicator.receive_json_from(timeout=5)

    assert malformed == {
        "type": "reply",
        "request_id": None,
        "ok": False,
        "error": "malformed JSON",
    }
    assert not unknown["ok"] and "unknown action" in unknown["error"]
    assert not bad_params["ok"] and "params" in bad_params["error"]
    await communicator.disconnect()


async def test_deeply_nested_json_gets_an_error_and_the_socket_stays_up(desk):
    communicator, _ = await connected(desk.first.user)

    await communicator.send_to(text_data="[" * 200_000 + "]" * 200_000)
    too_deep = await communicator.receive_json_from(timeout=5)
    await communicator.send_to(
        text_data='{"action": "sync", "params": ' + "[" * 100 + "]" * 100 + "}"
    )
    deep_params = await communicator.receive_json_from(timeout=5)
    still_up = await call(communicator, "launch_rockets")

    assert too_deep == {"type": "reply", "request_id": None, "ok": False, "error": "malformed JSON"}
    assert deep_params["ok"] is False and deep_params["error"] == "malformed JSON"
    assert still_up["ok"] is False and "unknown action" in still_up["error"]
    await communicator.disconnect()


async def test_marking_seen_records_it_for_the_owners_conversation(desk):
    await database_sync_to_async(desk.available)(desk.first)
    conversation = await database_sync_to_async(desk.waiting)()
    communicator, snapshot = await connected(desk.first.user)
    await call(communicator, "accept_offer", offer_id=snapshot["offers"][0]["offer_id"])

    reply = await call(communicator, "mark_seen", conversation_id=conversation.pk)

    assert reply["ok"] and reply["data"]["seen"] == 1
    unseen = await database_sync_to_async(
        lambda: Message.objects.filter(conversation=conversation, seen_at__isnull=True).count()
    )()
    assert unseen == 0
    await communicator.disconnect()


async def test_editing_variables_follows_their_flags_and_types(desk):
    from routing.flows.models import GlobalVariable

    def variables():
        GlobalVariable.objects.create(
            tenant=desk.tenant,
            name="order_number",
            type="number",
            agent_visible=True,
            agent_editable=True,
        )
        GlobalVariable.objects.create(
            tenant=desk.tenant, name="vip", type="boolean", agent_visible=True
        )
        GlobalVariable.objects.create(tenant=desk.tenant, name="secret_score", type="number")

    await database_sync_to_async(variables)()
    await database_sync_to_async(desk.available)(desk.first)
    conversation = await database_sync_to_async(desk.waiting)()
    communicator, snapshot = await connected(desk.first.user)
    await call(communicator, "accept_offer", offer_id=snapshot["offers"][0]["offer_id"])

    edited = await call(
        communicator,
        "set_variable",
        conversation_id=conversation.pk,
        name="order_number",
        value="4711",
    )
    wrong_type = await call(
        communicator,
        "set_variable",
        conversation_id=conversation.pk,
        name="order_number",
        value="soon",
    )
    read_only = await call(
        communicator, "set_variable", conversation_id=conversation.pk, name="vip", value=True
    )
    hidden = await call(
        communicator, "set_variable", conversation_id=conversation.pk, name="secret_score", value=1
    )

    assert edited["ok"] and edited["data"] == {"name": "order_number", "value": 4711}
    assert not wrong_type["ok"] and "number" in wrong_type["error"]
    assert not read_only["ok"] and "not agent-editable" in read_only["error"]
    assert not hidden["ok"] and "no variable" in hidden["error"]
    stored = await database_sync_to_async(
        lambda: Conversation.objects.get(pk=conversation.pk).variables
    )()
    assert stored["order_number"] == 4711 and "vip" not in stored
    await communicator.disconnect()


async def test_the_new_actions_answer_an_outsider_with_not_found_and_change_nothing(
    desk, other_tenant
):
    await database_sync_to_async(desk.available)(desk.first)
    conversation = await database_sync_to_async(desk.waiting)()
    stranger = await database_sync_to_async(
        lambda: make_agent(tenant=other_tenant, team=make_team(tenant=other_tenant, name="G"))
    )()
    communicator, _ = await connected(stranger.user)

    replies = [
        await call(communicator, "add_note", conversation_id=conversation.pk, text="x"),
        await call(communicator, "transfer", conversation_id=conversation.pk, to_queue_id=1),
        await call(communicator, "transfer_targets", conversation_id=conversation.pk),
    ]
    bad = await call(communicator, "set_preferences", auto_accept_queue_ids=[desk.queue.pk])

    assert [r["error"] for r in replies] == ["not found"] * 3
    assert not bad["ok"] and "only for your team's queues" in bad["error"]
    from routing.models import AgentPreference, ConversationNote

    counts = await database_sync_to_async(
        lambda: (ConversationNote.objects.count(), AgentPreference.objects.count())
    )()
    assert counts == (0, 0)
    await communicator.disconnect()


async def test_a_note_is_pushed_to_the_owners_desktop(desk):
    await database_sync_to_async(desk.available)(desk.first)
    conversation = await database_sync_to_async(desk.waiting)()
    communicator, snapshot = await connected(desk.first.user)
    await call(communicator, "accept_offer", offer_id=snapshot["offers"][0]["offer_id"])

    reply = await call(communicator, "add_note", conversation_id=conversation.pk, text="Merken")
    pushed = await next_event(communicator, "conversation.note")

    assert reply["ok"]
    assert pushed["conversation_id"] == conversation.pk
    assert pushed["note_id"] == reply["data"]["note_id"]
    await communicator.disconnect()
