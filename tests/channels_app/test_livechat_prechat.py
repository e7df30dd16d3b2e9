# ruff: noqa: F811 - the live-chat fixtures are imported from test_livechat
"""Live chat's extra pre-chat fields: defined by an admin, answered in the widget, checked by the
server, and kept as flow variables of the conversation they open (the flow and the agent see them)."""

import pytest
from django.core.exceptions import ValidationError

from channels_app.models import Conversation, Message
from routing.flows.models import AuthorizableNode, FlowRun
from routing.flows.selectors import conversation_variables_for_agent
from routing.flows.services import flow_import_template, node_authorization_authorize
from routing.models import EntryPoint
from tests.channels_app.test_livechat import (  # noqa: F401 - the live-chat tests' fixtures
    _fresh_limits,
    _run_after_commit,
    other_widget,
    post,
    session,
    url,
    widget,
)
from tests.tenants.test_admin_login import sign_in

FIELDS = [
    {"label": "Order number", "key": "order_number", "type": "text", "required": True},
    {"label": "Invoice email", "key": "invoice_email", "type": "email"},
    {"label": "Topic", "key": "topic", "type": "select", "options": ["Billing", "Delivery"]},
]


@pytest.fixture
def with_fields(widget):
    widget.prechat_fields = FIELDS
    widget.full_clean()
    widget.save()
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
    return widget


def first_message(client, widget, token, fields, client_id="p1"):
    return post(
        client,
        widget,
        "messages",
        {"token": token, "client_id": client_id, "text": "Hello", "name": "Dana", "fields": fields},
    )


def test_the_widget_gets_the_fields_to_render(client, with_fields):
    fields = session(client, with_fields)["widget"]["fields"]

    assert [f["key"] for f in fields] == ["order_number", "invoice_email", "topic"]
    assert fields[0]["required"] is True and fields[2]["options"] == ["Billing", "Delivery"]


def test_the_answers_become_flow_variables_the_agent_sees(client, with_fields):
    token = session(client, with_fields)["token"]

    response = first_message(
        client, with_fields, token, {"order_number": " A-1001 ", "topic": "Delivery"}
    )

    assert response.status_code == 200, response.content
    conversation = Conversation.objects.get()
    assert conversation.variables["order_number"] == "A-1001"
    assert conversation.variables["topic"] == "Delivery"
    assert "invoice_email" not in conversation.variables
    # The chat inbound flow ran on top of them and kept them.
    assert FlowRun.objects.filter(conversation=conversation).exists()
    assert conversation.variables["customer_name"] == "Dana"
    shown = {v["name"]: v for v in conversation_variables_for_agent(conversation=conversation)}
    assert shown["order_number"]["value"] == "A-1001" and shown["order_number"]["editable"] is False
    assert shown["topic"]["value"] == "Delivery"


def test_later_messages_do_not_change_the_answers(client, with_fields):
    token = session(client, with_fields)["token"]
    first_message(client, with_fields, token, {"order_number": "A-1"})

    later = first_message(client, with_fields, token, {"order_number": "B-2"}, client_id="p2")

    assert later.status_code == 200
    assert Conversation.objects.get().variables["order_number"] == "A-1"


@pytest.mark.parametrize(
    "fields, reason",
    [
        ({}, "Order number is required"),
        ({"order_number": "A", "invoice_email": "nope"}, "not an email address"),
        ({"order_number": "A", "topic": "Refunds"}, "choose one of the options"),
        ({"order_number": "A", "shoe_size": "44"}, "no pre-chat field 'shoe_size'"),
        ({"order_number": ["A"]}, "give text"),
        ("A-1", "must be an object"),
    ],
)
def test_bad_answers_are_refused_with_the_reason_and_nothing_is_stored(
    client, with_fields, fields, reason
):
    token = session(client, with_fields)["token"]

    response = first_message(client, with_fields, token, fields)

    assert response.status_code == 400 and reason in response.json()["error"]
    assert not Message.objects.exists() and not Conversation.objects.exists()


@pytest.mark.parametrize(
    "fields, problem",
    [
        ("not a list", "list of fields"),
        ([{"label": "X", "key": "1bad"}], "variable name"),
        ([{"label": "X", "key": "customer"}], "taken"),
        ([{"label": "X", "key": "a"}, {"label": "Y", "key": "a"}], "taken"),
        ([{"label": "X", "key": "a", "type": "date"}], "text, email, select"),
        ([{"label": "X", "key": "a", "type": "select"}], "list of options"),
        ([{"label": "X", "key": "a", "options": ["b"]}], "only a select"),
        ([{"label": "X", "key": "a", "colour": "red"}], "unknown colour"),
    ],
)
def test_bad_field_definitions_are_refused(widget, fields, problem):
    widget.prechat_fields = fields

    with pytest.raises(ValidationError) as refused:
        widget.full_clean()

    assert problem in str(refused.value.message_dict["prechat_fields"])


def test_the_admin_sets_the_fields_and_a_bad_definition_is_shown(client, owner, widget):
    from tests.channels_app.test_asset_setup import BLANK

    form = {
        **BLANK,
        "kind": "chat",
        "name": "Website chat",
        "email_intake": "",
        "chat_widget-TOTAL_FORMS": "1",
        "chat_widget-INITIAL_FORMS": "1",
        "chat_widget-MIN_NUM_FORMS": "0",
        "chat_widget-MAX_NUM_FORMS": "1",
        "chat_widget-0-id": str(widget.pk),
        "chat_widget-0-asset": str(widget.asset.pk),
        "chat_widget-0-allowed_origins": "https://shop.example",
        "chat_widget-0-title": "Chat",
        "chat_widget-0-color": "#aa3300",
        "chat_widget-0-position": "bottom-right",
        "chat_widget-0-greeting": "Hi!",
        "chat_widget-0-ask_name": "on",
        "chat_widget-0-offline_behaviour": "hide",
        "chat_widget-0-offline_text": "Later.",
        "chat_widget-0-identity_secret": "",
    }
    change = f"/admin/channels_app/channelasset/{widget.asset.pk}/change/"
    sign_in(client, owner.email)

    bad = client.post(change, {**form, "chat_widget-0-prechat_fields": '[{"label": "X"}]'})
    widget.refresh_from_db()
    unchanged = widget.prechat_fields
    good = client.post(
        change, {**form, "chat_widget-0-prechat_fields": '[{"label": "Order", "key": "order"}]'}
    )

    widget.refresh_from_db()
    assert bad.status_code == 200 and b"variable name" in bad.content and unchanged == []
    assert good.status_code == 302
    assert widget.prechat_fields == [{"label": "Order", "key": "order"}]
    assert widget.offline_behaviour == "hide"


def test_an_outsiders_visitor_cannot_open_a_conversation_with_answers(
    client, with_fields, other_widget
):
    foreign = post(client, other_widget, "session", {}, origin="http://testserver").json()

    response = first_message(client, with_fields, foreign["token"], {"order_number": "A"})

    assert response.status_code == 403
    assert not Conversation.objects.exists()
