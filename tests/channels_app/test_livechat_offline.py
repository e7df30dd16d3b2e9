# ruff: noqa: F811 - the live-chat fixtures are imported from test_livechat
"""Live chat while no one is there: the widget is offline exactly when the router would find no
agent for a new chat, and a message left then is a conversation answered by email."""

import pytest
from django.core import mail

from channels_app import services
from channels_app.models import ChatWidget, Conversation, Message
from channels_app.services.outbound import message_send
from routing.flows.models import AuthorizableNode
from routing.flows.services import flow_import_template, node_authorization_authorize
from routing.models import AgentState, EntryPoint, Task
from routing.services import agent_state_set
from tests.channels_app.test_livechat import (  # noqa: F401 - the live-chat tests' fixtures
    _fresh_limits,
    _run_after_commit,
    other_widget,
    post,
    session,
    widget,
)
from tests.routing.factories import make_agent, make_queue, make_team

LEFT = {"client_id": "off-1", "name": "Dana", "email": "dana@example.com", "text": "Call me back"}


@pytest.fixture
def chat_flow(widget):
    tenant = widget.asset.tenant
    for node in (AuthorizableNode.TASK, AuthorizableNode.ENGAGE):
        node_authorization_authorize(tenant=tenant, node=node, user=None)
    EntryPoint.objects.create(
        tenant=tenant,
        name="Chat entry",
        channel_type="chat",
        asset=widget.asset,
        flow=flow_import_template(tenant=tenant, template_name="chat_inbound"),
    )
    team = make_team(tenant=tenant, name="Chat team", max_chat=1)
    return make_queue(tenant=tenant, teams=[team], name="Chat", channel_type="chat")


def test_the_widget_is_offline_until_an_agent_of_a_chat_queue_has_room(client, widget, chat_flow):
    tenant = widget.asset.tenant
    no_one = session(client, widget)["widget"]
    agent = make_agent(tenant=tenant, team=chat_flow.teams.get())
    agent_state_set(agent=agent, state="available")
    staffed = session(client, widget)["widget"]
    AgentState.objects.filter(agent=agent).update(engaged_chat=1)  # at its one chat
    full = session(client, widget)["widget"]
    AgentState.objects.filter(agent=agent).update(engaged_chat=0)
    agent_state_set(agent=agent, state="signed_out")
    away = session(client, widget)["widget"]

    assert no_one["online"] is False and no_one["offline_behaviour"] == "message"
    assert no_one["offline_text"] == widget.offline_text
    assert staffed["online"] is True
    assert full["online"] is False
    assert away["online"] is False


def test_an_available_agent_of_an_email_queue_does_not_make_chat_online(client, widget):
    tenant = widget.asset.tenant
    team = make_team(tenant=tenant, name="Mail team")
    make_queue(tenant=tenant, teams=[team], name="Mail", channel_type="email")
    agent_state_set(agent=make_agent(tenant=tenant, team=team), state="available")

    assert session(client, widget)["widget"]["online"] is False


def test_a_left_message_is_queued_and_the_agents_replies_go_by_email(
    client, widget, chat_flow, agent
):
    token = session(client, widget)["token"]

    response = post(client, widget, "offline", {"token": token, **LEFT})

    assert response.status_code == 200, response.content
    conversation = Conversation.objects.get()
    assert conversation.variables["livechat_offline"] is True
    assert conversation.variables["visitor_email"] == "dana@example.com"
    assert conversation.customer.display_name == "Dana"
    # Straight to the chat queue: the flow asks nothing of a visitor who has gone.
    task = Task.objects.get(conversation=conversation)
    assert task.queue.name == "Chat"
    assert not Message.objects.filter(direction="out").exists()
    assert response.json()["text"] == "Call me back"

    conversation.owner = agent
    conversation.save(update_fields=["owner"])
    with _capture_on_commit():
        first = message_send(
            conversation=conversation,
            text="We called: no answer. Try again tomorrow?",
            author_kind="agent",
            author_agent=agent,
        )
    with _capture_on_commit():
        message_send(
            conversation=conversation, text="Second try.", author_kind="agent", author_agent=agent
        )

    first.refresh_from_db()
    assert first.status == "sent"
    assert [m.to for m in mail.outbox] == [["dana@example.com"], ["dana@example.com"]]
    one, two = mail.outbox
    assert "We called: no answer." in one.body and widget.title in one.subject
    assert one.extra_headers["Message-ID"] == first.content["mail_id"]
    # The second reply threads under the first, as an email conversation does.
    assert two.extra_headers["In-Reply-To"] == one.extra_headers["Message-ID"]
    assert "<p>" in one.alternatives[0][0]


def _capture_on_commit():
    from tests.channels_app import test_livechat

    return test_livechat._capture(execute=True)


def test_a_left_message_is_stored_once_for_its_client_id(client, widget, chat_flow):
    token = session(client, widget)["token"]

    first = post(client, widget, "offline", {"token": token, **LEFT})
    again = post(client, widget, "offline", {"token": token, **LEFT})

    assert first.status_code == again.status_code == 200
    assert first.json()["client_id"] == again.json()["client_id"] == "off-1"
    assert again.json()["id"] == Message.objects.get(direction="in").pk
    assert Conversation.objects.count() == 1


@pytest.mark.parametrize(
    "change, status, reason",
    [
        ({"email": "not-an-address"}, 400, "not an email address"),
        ({"name": " "}, 400, "your name"),
        ({"text": ""}, 400, "needs text"),
        ({"text": "x" * 2001}, 413, "2000"),
        ({"client_id": ""}, 400, "client id"),
    ],
)
def test_a_bad_left_message_is_refused_with_the_reason(client, widget, change, status, reason):
    token = session(client, widget)["token"]

    response = post(client, widget, "offline", {"token": token, **LEFT, **change})

    assert response.status_code == status and reason in response.json()["error"]
    assert not Message.objects.exists() and not Conversation.objects.exists()


def test_a_widget_set_to_hide_takes_no_left_messages(client, widget):
    widget.offline_behaviour = ChatWidget.Offline.HIDE
    widget.save()
    data = session(client, widget)

    response = post(client, widget, "offline", {"token": data["token"], **LEFT})

    assert data["widget"]["offline_behaviour"] == "hide" and data["widget"]["online"] is False
    assert response.status_code == 409 and "no messages" in response.json()["error"]
    assert not Message.objects.exists()


def test_an_outsiders_visitor_cannot_leave_a_message_on_this_widget(client, widget, other_widget):
    foreign = post(client, other_widget, "session", {}, origin="http://testserver").json()

    response = post(client, widget, "offline", {"token": foreign["token"], **LEFT})
    wrong_site = post(
        client, widget, "offline", {"token": foreign["token"], **LEFT}, origin="https://x.example"
    )

    assert response.status_code == 403 and "another widget" in response.json()["error"]
    assert wrong_site.status_code == 403
    assert not Message.objects.exists()


def test_the_offline_behaviour_is_set_in_the_admin_console(client, owner, widget):
    from tests.tenants.test_admin_login import sign_in

    sign_in(client, owner.email)
    page = client.get(f"/admin/channels_app/channelasset/{widget.asset.pk}/change/")

    assert page.status_code == 200
    assert b"offline_behaviour" in page.content and b"Hide the launcher" in page.content
    assert services.channel_asset_create  # the asset page is the widget's page
