"""The desktop composer's list picker builder: its action sends one Apple list picker, refuses bad
input with the reason, and exists only for the agent who owns the conversation."""

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
