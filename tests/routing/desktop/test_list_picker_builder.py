"""The desktop composer's rich-message builder (list picker, quick reply, time picker, rich link):
its actions send one Apple rich message, refuse bad input with the reason, and exist only for the
agent who owns the conversation."""

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404

from channels_app.models import ChannelAsset, Message
from routing.desktop.actions import ACTIONS
from tests.routing.factories import make_agent, make_conversation, make_team

pytestmark = pytest.mark.django_db


@pytest.fixture
def owned(tenant):
    team = make_team(tenant=tenant, name="Social", max_social=2)
    agent = make_agent(tenant=tenant, team=team, name="First")
    asset = ChannelAsset.objects.create(
        tenant=tenant,
        kind="apple",
        name="Acme Apple",
        apple_business_id="biz",
        apple_msp_id="msp",
        apple_msp_secret="c2VjcmV0",
    )
    conversation = make_conversation(tenant=tenant, kind="apple", asset=asset, text="Hallo")
    conversation.owner = agent
    conversation.save(update_fields=["owner"])
    return agent, conversation


def test_the_builder_sends_a_list_picker_with_numbered_items(owned):
    agent, conversation = owned

    result = ACTIONS["send_list_picker"](
        agent=agent,
        params={
            "conversation_id": conversation.pk,
            "title": "Wobei?",
            "items": [{"title": "Bestellung"}, {"title": "Rechnung"}],
        },
    )

    message = Message.objects.get(pk=result["message_id"])
    assert message.text == "Wobei?"
    assert message.content == {
        "type": "list_picker",
        "title": "Wobei?",
        "items": [{"id": "item-1", "title": "Bestellung"}, {"id": "item-2", "title": "Rechnung"}],
    }
    assert message.author_agent == agent


@pytest.mark.parametrize(
    "params,reason",
    [
        ({"title": "", "items": [{"title": "A"}]}, "needs a title"),
        ({"title": "Wobei?", "items": []}, "1 to 20 items"),
        ({"title": "Wobei?", "items": [{"title": " "}]}, "item 1 needs a title"),
    ],
)
def test_bad_builder_input_is_refused_with_the_reason(owned, params, reason):
    agent, conversation = owned

    with pytest.raises(ValidationError) as refused:
        ACTIONS["send_list_picker"](
            agent=agent, params={"conversation_id": conversation.pk, **params}
        )

    assert reason in str(refused.value)
    assert Message.objects.filter(conversation=conversation).count() == 1


def test_another_tenants_agent_cannot_send_into_the_conversation(owned, other_tenant):
    _, conversation = owned
    outsider = make_agent(
        tenant=other_tenant, team=make_team(tenant=other_tenant, name="T"), name="Out"
    )

    with pytest.raises(Http404):
        ACTIONS["send_list_picker"](
            agent=outsider,
            params={"conversation_id": conversation.pk, "title": "X", "items": [{"title": "A"}]},
        )


def send_rich(agent, conversation, **params) -> Message:
    result = ACTIONS["send_rich_message"](
        agent=agent, params={"conversation_id": conversation.pk, **params}
    )
    return Message.objects.get(pk=result["message_id"])


def test_the_builder_sends_quick_replies(owned):
    agent, conversation = owned

    message = send_rich(
        agent,
        conversation,
        type="quick_reply",
        title="Passt es?",
        items=[{"title": "Ja"}, {"title": "Nein"}],
    )

    assert message.content == {
        "type": "quick_reply",
        "title": "Passt es?",
        "items": [{"id": "item-1", "title": "Ja"}, {"id": "item-2", "title": "Nein"}],
    }


def test_the_builder_sends_a_time_picker_with_its_slots_in_apples_time_format(owned):
    agent, conversation = owned

    message = send_rich(
        agent,
        conversation,
        type="time_picker",
        title="Rückruf",
        items=[{"title": "2026-11-27T09:00:00.000Z"}, {"title": "2026-11-27T10:30:00+01:00"}],
    )

    assert message.text == "Rückruf"
    assert message.content["slots"] == [
        {"id": "slot-1", "start": "2026-11-27T09:00+0000", "duration": 1800},
        {"id": "slot-2", "start": "2026-11-27T10:30+0100", "duration": 1800},
    ]


def test_the_builder_sends_a_rich_link(owned):
    agent, conversation = owned

    message = send_rich(
        agent,
        conversation,
        type="rich_link",
        title="Sendungsverfolgung",
        url="https://example.com/track/1",
    )

    assert message.content == {
        "type": "rich_link",
        "title": "Sendungsverfolgung",
        "url": "https://example.com/track/1",
    }


@pytest.mark.parametrize(
    "params,reason",
    [
        ({"type": "poll", "title": "X"}, "one of list_picker"),
        ({"type": "quick_reply", "title": "X", "items": [{"title": "Ja"}]}, "2 to 5 items"),
        ({"type": "time_picker", "title": "X", "items": [{"title": "morgen"}]}, "slot 1 is not"),
        ({"type": "rich_link", "title": "X", "url": "javascript:alert(1)"}, "http(s) URL"),
        ({"type": "rich_link", "title": "X"}, "http(s) URL"),
    ],
)
def test_bad_rich_messages_are_refused_with_the_reason(owned, params, reason):
    agent, conversation = owned

    with pytest.raises(ValidationError) as refused:
        send_rich(agent, conversation, **params)

    assert reason in str(refused.value)
    assert Message.objects.filter(conversation=conversation).count() == 1


def test_rich_messages_are_for_apple_conversations_only(tenant):
    team = make_team(tenant=tenant, name="Social", max_social=2)
    agent = make_agent(tenant=tenant, team=team, name="First")
    conversation = make_conversation(tenant=tenant, kind="whatsapp", text="Hallo")
    conversation.owner = agent
    conversation.save(update_fields=["owner"])

    with pytest.raises(ValidationError) as refused:
        send_rich(agent, conversation, type="rich_link", title="X", url="https://example.com/")

    assert "Apple Messages" in str(refused.value)


def test_another_tenants_agent_cannot_send_a_rich_link_into_the_conversation(owned, other_tenant):
    _, conversation = owned
    outsider = make_agent(
        tenant=other_tenant, team=make_team(tenant=other_tenant, name="T"), name="Out"
    )

    with pytest.raises(Http404):
        send_rich(outsider, conversation, type="rich_link", title="X", url="https://example.com/")
    assert Message.objects.filter(conversation=conversation).count() == 1


def test_the_builder_sends_a_form_with_one_question_a_page(owned):
    agent, conversation = owned

    message = send_rich(
        agent, conversation, type="form", title="Angaben", items=[{"title": "Bestellnummer"}]
    )

    assert message.content == {
        "type": "form",
        "title": "Angaben",
        "pages": [{"id": "page-1", "title": "Bestellnummer", "type": "input"}],
    }
