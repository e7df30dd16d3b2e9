"""From the desktop: handing a conversation to a colleague or a queue, internal notes, the agent's
preferences (sound, auto-accept) and the conversation finder. Every action has its outsider."""

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from django.test import Client
from django.utils import timezone

from channels_app.models import Conversation, Direction, Message
from routing.desktop import actions
from routing.models import (
    AgentPreference,
    AgentState,
    ConversationNote,
    Offer,
    OfferStatus,
    Task,
    TaskEvent,
    TaskStatus,
)
from routing.services import offer_accept
from tests.routing.factories import make_agent, make_conversation, make_queue, make_team

pytestmark = pytest.mark.django_db(transaction=True)


def accepted(desk, agent, **kwargs) -> Conversation:
    """A waiting conversation offered to agent (the only one available) and accepted."""
    desk.available(agent)
    conversation = desk.waiting(**kwargs)
    offer = Offer.objects.get(task__conversation=conversation, status=OfferStatus.PENDING)
    assert offer.agent_id == agent.pk
    offer_accept(offer_id=offer.pk, agent=agent)
    conversation.refresh_from_db()
    return conversation


def snapshot_of(conversation: Conversation) -> dict:
    """What a refused action must leave untouched."""
    return {
        "owner": Conversation.objects.get(pk=conversation.pk).owner_id,
        "tasks": sorted(Task.objects.filter(conversation=conversation).values_list("pk", "status")),
        "offers": sorted(
            Offer.objects.filter(task__conversation=conversation).values_list("pk", "status")
        ),
        "notes": ConversationNote.objects.count(),
        "engaged": sorted(AgentState.objects.values_list("pk", "engaged_social")),
    }


@pytest.fixture
def globex(other_tenant):
    """Another tenant with its own agent, queue and conversation."""
    team = make_team(tenant=other_tenant, name="Globex social", max_social=2)
    queue = make_queue(
        tenant=other_tenant, teams=[team], name="Globex queue", channel_type="social"
    )
    agent = make_agent(tenant=other_tenant, team=team, name="Globex agent")
    conversation = make_conversation(tenant=other_tenant, kind="whatsapp", text="Globex hello")

    class Globex:
        pass

    g = Globex()
    g.team, g.queue, g.agent, g.conversation = team, queue, agent, conversation
    return g


# --- transfer -----------------------------------------------------------------------------------


def test_a_transfer_to_a_colleague_offers_them_the_conversation_with_its_history(desk):
    conversation = accepted(desk, desk.first, text="Mein Paket ist nicht angekommen")
    desk.available(desk.second)
    first_task = Task.objects.get(conversation=conversation, status=TaskStatus.ASSIGNED)

    data = actions.transfer(
        agent=desk.first,
        params={"conversation_id": conversation.pk, "to_agent_id": desk.second.pk},
    )

    offer = Offer.objects.get(pk=data["offer_id"])
    assert offer.agent_id == desk.second.pk and offer.status == OfferStatus.PENDING
    first_task.refresh_from_db()
    assert first_task.status == TaskStatus.CLOSED and first_task.close_reason == "transferred"
    assert offer.task.status == TaskStatus.OFFERED and offer.task.queue_id == desk.queue.pk
    assert Conversation.objects.get(pk=conversation.pk).owner_id is None
    states = {s.pk: s.engaged_social for s in AgentState.objects.all()}
    assert states == {desk.first.pk: 0, desk.second.pk: 1}

    offer_accept(offer_id=offer.pk, agent=desk.second)

    # The timeline keeps both tasks: the first agent's, the transfer, the colleague's.
    kinds = list(
        TaskEvent.objects.filter(task__conversation=conversation)
        .order_by("at", "id")
        .values_list("task_id", "kind")
    )
    assert kinds == [
        (first_task.pk, "queued"),
        (first_task.pk, "offered"),
        (first_task.pk, "accepted"),
        (first_task.pk, "closed"),
        (offer.task_id, "queued"),
        (offer.task_id, "transferred"),
        (offer.task_id, "offered"),
        (offer.task_id, "accepted"),
    ]
    transferred = TaskEvent.objects.get(kind="transferred", task_id=offer.task_id)
    assert transferred.data["from_agent_id"] == desk.first.pk
    assert transferred.data["previous_task_id"] == first_task.pk
    # The colleague reads the earlier messages; the first agent no longer can.
    second, first = Client(), Client()
    second.force_login(desk.second.user)
    first.force_login(desk.first.user)
    page = second.get(f"/desktop/conversations/{conversation.pk}/")
    assert page.status_code == 200
    assert "Mein Paket ist nicht angekommen" in page.content.decode()
    assert first.get(f"/desktop/conversations/{conversation.pk}/").status_code == 404


def test_a_declined_transfer_waits_in_the_queue_like_any_task(desk):
    conversation = accepted(desk, desk.first)
    desk.available(desk.second)
    data = actions.transfer(
        agent=desk.first,
        params={"conversation_id": conversation.pk, "to_agent_id": desk.second.pk},
    )
    from routing.services import agent_state_set

    agent_state_set(agent=desk.first, state="signed_out")

    actions.decline_offer(agent=desk.second, params={"offer_id": data["offer_id"]})

    task = Offer.objects.get(pk=data["offer_id"]).task
    task.refresh_from_db()
    assert task.status == TaskStatus.WAITING


def test_a_transfer_to_a_colleague_who_is_not_available_or_full_is_refused(desk):
    conversation = accepted(desk, desk.first)
    before = snapshot_of(conversation)

    with pytest.raises(ValidationError, match="not available"):
        actions.transfer(
            agent=desk.first,
            params={"conversation_id": conversation.pk, "to_agent_id": desk.second.pk},
        )
    full = make_agent(tenant=desk.tenant, team=desk.team, name="Full", max_social=0)
    desk.available(full)
    with pytest.raises(ValidationError, match="no free social capacity"):
        actions.transfer(
            agent=desk.first, params={"conversation_id": conversation.pk, "to_agent_id": full.pk}
        )
    with pytest.raises(ValidationError, match="already with you"):
        actions.transfer(
            agent=desk.first,
            params={"conversation_id": conversation.pk, "to_agent_id": desk.first.pk},
        )
    with pytest.raises(ValidationError, match="either an agent"):
        actions.transfer(agent=desk.first, params={"conversation_id": conversation.pk})

    assert snapshot_of(conversation) == {**before, "engaged": snapshot_of(conversation)["engaged"]}
    assert AgentState.objects.get(pk=desk.first.pk).engaged_social == 1


def test_a_transfer_to_a_queue_puts_the_conversation_back_in_line(desk):
    conversation = accepted(desk, desk.first)
    other = make_queue(
        tenant=desk.tenant, teams=[desk.team], name="Second line", channel_type="social"
    )
    from routing.services import agent_state_set

    agent_state_set(agent=desk.first, state="signed_out")

    data = actions.transfer(
        agent=desk.first, params={"conversation_id": conversation.pk, "to_queue_id": other.pk}
    )

    task = Task.objects.get(pk=data["task_id"])
    assert task.queue_id == other.pk and task.status == TaskStatus.WAITING
    assert Conversation.objects.get(pk=conversation.pk).owner_id is None
    assert AgentState.objects.get(pk=desk.first.pk).engaged_social == 0
    assert TaskEvent.objects.filter(task=task, kind="transferred").exists()


def test_an_outsider_agent_queue_or_conversation_is_refused_and_nothing_changes(desk, globex):
    conversation = accepted(desk, desk.first)
    AgentState.objects.get_or_create(
        agent=globex.agent,
        defaults={"tenant_id": globex.agent.tenant_id, "team_id": globex.team.pk, "max_social": 2},
    )
    AgentState.objects.filter(pk=globex.agent.pk).update(state="available")
    before = snapshot_of(conversation)

    with pytest.raises(ValidationError, match="No such agent"):
        actions.transfer(
            agent=desk.first,
            params={"conversation_id": conversation.pk, "to_agent_id": globex.agent.pk},
        )
    with pytest.raises(ValidationError, match="No such queue"):
        actions.transfer(
            agent=desk.first,
            params={"conversation_id": conversation.pk, "to_queue_id": globex.queue.pk},
        )
    with pytest.raises(Http404):
        actions.transfer(
            agent=globex.agent,
            params={"conversation_id": conversation.pk, "to_queue_id": globex.queue.pk},
        )
    # Someone else's conversation of the same tenant does not exist for the agent either.
    with pytest.raises(Http404):
        actions.transfer(
            agent=desk.second,
            params={"conversation_id": conversation.pk, "to_agent_id": desk.first.pk},
        )
    with pytest.raises(Http404):
        actions.list_transfer_targets(
            agent=globex.agent, params={"conversation_id": conversation.pk}
        )

    assert snapshot_of(conversation) == before


def test_transfer_targets_are_available_colleagues_with_room_and_the_tenants_queues(desk, globex):
    conversation = accepted(desk, desk.first)
    desk.available(desk.second)
    make_queue(tenant=desk.tenant, teams=[desk.team], name="Chat only", channel_type="chat")

    data = actions.list_transfer_targets(
        agent=desk.first, params={"conversation_id": conversation.pk}
    )

    assert [a["id"] for a in data["agents"]] == [desk.second.pk]
    assert [q["name"] for q in data["queues"]] == ["WhatsApp support"]


# --- internal notes -------------------------------------------------------------------------------


def test_a_note_is_shown_to_agents_and_supervisors_and_never_sent_to_the_provider(
    desk, fake_provider, supervisor
):
    from care_console.models import SupervisorScope

    SupervisorScope.objects.create(tenant=desk.tenant, user=supervisor).teams.add(desk.team)
    conversation = accepted(desk, desk.first)
    requests_before = fake_provider.requests

    data = actions.add_note(
        agent=desk.first,
        params={"conversation_id": conversation.pk, "text": "Kunde ist VIP, bitte Rückruf"},
    )

    note = ConversationNote.objects.get(pk=data["note_id"])
    assert note.author_id == desk.first.pk and note.tenant_id == desk.tenant.pk
    assert fake_provider.requests == requests_before
    assert fake_provider.sent_to("whatsapp") == []
    assert not Message.objects.filter(conversation=conversation, text__contains="VIP").exists()
    agent_client, care = Client(), Client()
    agent_client.force_login(desk.first.user)
    care.force_login(supervisor)
    panel = agent_client.get(f"/desktop/conversations/{conversation.pk}/").content.decode()
    assert 'class="note"' in panel and "Kunde ist VIP, bitte Rückruf" in panel
    page = care.get(f"/care/conversations/{conversation.pk}/")
    assert page.status_code == 200
    assert "Kunde ist VIP, bitte Rückruf" in page.content.decode()


def test_a_note_needs_text_and_an_owned_conversation_of_the_tenant(desk, globex):
    conversation = accepted(desk, desk.first)

    with pytest.raises(ValidationError, match="needs some text"):
        actions.add_note(agent=desk.first, params={"conversation_id": conversation.pk, "text": " "})
    with pytest.raises(ValidationError, match="at most 4000"):
        actions.add_note(
            agent=desk.first, params={"conversation_id": conversation.pk, "text": "x" * 4001}
        )
    with pytest.raises(Http404):
        actions.add_note(
            agent=globex.agent, params={"conversation_id": conversation.pk, "text": "hi"}
        )
    with pytest.raises(Http404):
        actions.add_note(
            agent=desk.first, params={"conversation_id": globex.conversation.pk, "text": "hi"}
        )
    assert ConversationNote.objects.count() == 0


def test_an_outsider_supervisor_does_not_see_the_notes(desk, outsider):
    conversation = accepted(desk, desk.first)
    actions.add_note(
        agent=desk.first, params={"conversation_id": conversation.pk, "text": "Geheim"}
    )
    care = Client()
    care.force_login(outsider)

    page = care.get(f"/care/conversations/{conversation.pk}/")

    assert page.status_code in (403, 404)
    assert "Geheim" not in page.content.decode()


# --- preferences and auto-accept --------------------------------------------------------------------


def test_the_mute_preference_is_kept_on_the_server_for_every_browser(desk):
    data = actions.set_preferences(agent=desk.first, params={"sound_muted": True})

    assert data["sound_muted"] is True
    browser = Client()
    browser.force_login(desk.first.user)
    page = browser.get("/desktop/").content.decode()
    assert 'data-sound-muted="true"' in page and 'aria-pressed="true"' in page
    with pytest.raises(ValidationError, match="true or false"):
        actions.set_preferences(agent=desk.first, params={"sound_muted": "yes"})
    assert AgentPreference.objects.get(pk=desk.first.pk).sound_muted is True
    other = Client()
    other.force_login(desk.second.user)
    assert 'data-sound-muted="false"' in other.get("/desktop/").content.decode()


def test_auto_accept_is_only_for_the_agents_queues_that_allow_it(desk, globex):
    closed = make_queue(
        tenant=desk.tenant, teams=[desk.team], name="No auto", channel_type="social"
    )
    elsewhere_team = make_team(tenant=desk.tenant, name="Elsewhere", max_social=1)
    elsewhere = make_queue(
        tenant=desk.tenant, teams=[elsewhere_team], name="Elsewhere", channel_type="social"
    )
    desk.queue.auto_accept_allowed = True
    desk.queue.save(update_fields=["auto_accept_allowed"])
    for queue in (globex.queue, elsewhere):
        queue.auto_accept_allowed = True
        queue.save(update_fields=["auto_accept_allowed"])

    for refused in (closed, globex.queue, elsewhere):
        with pytest.raises(ValidationError, match="only for your team's queues"):
            actions.set_preferences(
                agent=desk.first, params={"auto_accept_queue_ids": [refused.pk]}
            )
    with pytest.raises(ValidationError, match="list of queue ids"):
        actions.set_preferences(agent=desk.first, params={"auto_accept_queue_ids": "1"})
    assert not AgentPreference.objects.filter(pk=desk.first.pk).exists()

    data = actions.set_preferences(
        agent=desk.first, params={"auto_accept_queue_ids": [desk.queue.pk]}
    )
    assert data["auto_accept_queue_ids"] == [desk.queue.pk]


def test_an_agent_who_opted_in_gets_offers_accepted_at_once_within_capacity(desk):
    desk.queue.auto_accept_allowed = True
    desk.queue.save(update_fields=["auto_accept_allowed"])
    actions.set_preferences(agent=desk.first, params={"auto_accept_queue_ids": [desk.queue.pk]})
    desk.available(desk.first)

    conversations = [desk.waiting(customer=f"Kunde {i}") for i in range(3)]

    owners = [Conversation.objects.get(pk=c.pk).owner_id for c in conversations]
    assert owners == [desk.first.pk, desk.first.pk, None]  # room for two (max_social=2)
    accepted_events = TaskEvent.objects.filter(kind="accepted", agent=desk.first)
    assert accepted_events.count() == 2
    assert all(e.data["auto_accepted"] for e in accepted_events)
    assert AgentState.objects.get(pk=desk.first.pk).engaged_social == 2
    assert Task.objects.get(conversation=conversations[2]).status == TaskStatus.WAITING


def test_without_opting_in_or_when_the_queue_does_not_allow_it_offers_wait_for_the_agent(desk):
    actions.set_preferences(agent=desk.first, params={"sound_muted": False})
    desk.queue.auto_accept_allowed = True
    desk.queue.save(update_fields=["auto_accept_allowed"])
    desk.available(desk.first)
    first = desk.waiting()
    # Opted in, then the admin withdrew the permission: the choice no longer counts.
    actions.set_preferences(agent=desk.second, params={"auto_accept_queue_ids": [desk.queue.pk]})
    desk.queue.auto_accept_allowed = False
    desk.queue.save(update_fields=["auto_accept_allowed"])
    desk.available(desk.second)
    second = desk.waiting()

    for conversation in (first, second):
        assert Conversation.objects.get(pk=conversation.pk).owner_id is None
        assert Offer.objects.get(task__conversation=conversation).status == OfferStatus.PENDING


# --- the conversation finder ------------------------------------------------------------------------


def test_the_finder_filters_searches_and_pages_the_agents_own_conversations(
    desk, globex, django_assert_max_num_queries
):
    mine = accepted(desk, desk.first, customer="Erika Muster", text="Wo ist meine Rechnung?")
    waiting_on_customer = accepted(desk, desk.first, customer="Hans Warten")
    Message.objects.create(
        tenant=desk.tenant,
        conversation=waiting_on_customer,
        asset=waiting_on_customer.asset,
        direction=Direction.OUTBOUND,
        author_kind="agent",
        text="Können Sie mir die Nummer nennen?",
        status="sent",
    )
    closed = make_conversation(tenant=desk.tenant, kind="whatsapp", customer_name="Zoe Zu")
    Conversation.objects.filter(pk=closed.pk).update(
        owner=desk.first, status=Conversation.Status.CLOSED, closed_at=timezone.now()
    )
    someone_elses = make_conversation(tenant=desk.tenant, kind="whatsapp", customer_name="Fremd")
    browser = Client()
    browser.force_login(desk.first.user)

    def names(**query):
        with django_assert_max_num_queries(8):
            response = browser.get("/desktop/conversations/", query)
        assert response.status_code == 200, response.content
        return [c["customer_name"] for c in response.json()["conversations"]]

    assert sorted(names(filter="mine")) == ["Erika Muster", "Hans Warten"]
    assert names(filter="waiting") == ["Hans Warten"]
    assert names(filter="closed_today") == ["Zoe Zu"]
    assert sorted(names(filter="open")) == ["Erika Muster", "Hans Warten"]
    assert names(filter="mine", q="rechnung") == ["Erika Muster"]
    assert names(filter="mine", q=mine.identity.address) == ["Erika Muster"]
    assert names(filter="open", q="Fremd") == []
    assert names(filter="open", q="Globex") == []
    assert browser.get("/desktop/conversations/", {"filter": "all"}).status_code == 400
    assert browser.get("/desktop/conversations/", {"page": "x"}).status_code == 400
    assert someone_elses.pk not in [
        c["id"]
        for c in browser.get("/desktop/conversations/", {"filter": "open"}).json()["conversations"]
    ]


def test_the_finder_pages_through_many_conversations(desk):
    from routing.desktop.selectors import LIST_PAGE_SIZE

    for i in range(LIST_PAGE_SIZE + 2):
        c = make_conversation(tenant=desk.tenant, kind="whatsapp", customer_name=f"K{i:02d}")
        Conversation.objects.filter(pk=c.pk).update(owner=desk.first)
    browser = Client()
    browser.force_login(desk.first.user)

    first = browser.get("/desktop/conversations/", {"filter": "mine"}).json()
    second = browser.get("/desktop/conversations/", {"filter": "mine", "page": 2}).json()

    assert (first["pages"], first["total"], len(first["conversations"])) == (2, 27, 25)
    assert len(second["conversations"]) == 2
    assert not {c["id"] for c in first["conversations"]} & {
        c["id"] for c in second["conversations"]
    }


def test_the_finder_is_for_agents_of_the_tenant_only(desk, outsider, supervisor):
    for user in (outsider, supervisor):
        browser = Client()
        browser.force_login(user)
        assert browser.get("/desktop/conversations/").status_code == 403
    assert Client().get("/desktop/conversations/").status_code == 302


def test_a_note_is_not_in_the_transcript_mailed_to_a_chat_visitor(client, tenant, team):
    from django.core import mail

    from channels_app import services
    from routing.services.desktop import conversation_note_add

    asset = services.channel_asset_create(tenant=tenant, kind="chat", name="Website chat")
    widget = asset.chat_widget
    widget.allowed_origins = "https://shop.example\n"
    widget.save()

    def post(what, body):
        return client.post(
            f"/livechat/{widget.widget_id}/{what}",
            body,
            content_type="application/json",
            headers={"Origin": "https://shop.example"},
        )

    token = post("session", {}).json()["token"]
    post("messages", {"token": token, "client_id": "a", "text": "Wo ist mein Paket?"})
    conversation = Conversation.objects.get(asset=asset)
    agent = make_agent(tenant=tenant, team=team, name="Notierer")
    conversation_note_add(conversation=conversation, agent=agent, text="Intern: Kunde verärgert")

    response = post("transcript", {"token": token, "email": "dana@example.com"})

    assert response.status_code == 200, response.content
    body = mail.outbox[-1].body
    assert "Wo ist mein Paket?" in body and "Intern" not in body and "verärgert" not in body
