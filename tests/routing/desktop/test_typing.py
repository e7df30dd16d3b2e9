"""The agent types: Messenger gets typing_on, WhatsApp its typing indicator with the read receipt,
at most once per conversation and interval, counted in Redis for every process."""

import pytest
import redis
from django.conf import settings
from django.http import Http404

from channels_app.models import Conversation, Direction, Message
from channels_app.services import typing as typing_service
from routing.desktop import actions
from tests.channels_app.conftest import messenger_asset, sms_asset  # noqa: F401
from tests.routing.factories import make_agent, make_conversation, make_team

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_typing_slots():
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = list(client.scan_iter(f"{typing_service.KEY_PREFIX}:*"))
    if keys:
        client.delete(*keys)
    yield client


def owned(agent, *, kind: str, asset, provider_id: str = "") -> Conversation:
    conversation = make_conversation(tenant=agent.tenant, kind=kind, asset=asset, text="Hallo")
    Conversation.objects.filter(pk=conversation.pk).update(owner=agent)
    if provider_id:
        Message.objects.filter(conversation=conversation).update(provider_message_id=provider_id)
    conversation.refresh_from_db()
    return conversation


def test_messenger_gets_typing_on_once_per_interval(
    desk,
    messenger_asset,  # noqa: F811
    fake_provider,
    _no_typing_slots,
):
    conversation = owned(desk.first, kind="messenger", asset=messenger_asset)

    first = actions.typing(agent=desk.first, params={"conversation_id": conversation.pk})
    again = actions.typing(agent=desk.first, params={"conversation_id": conversation.pk})

    assert first == {"sent": True} and again == {"sent": False}
    sent = fake_provider.sent_to("messenger")
    assert [r["payload"] for r in sent] == [
        {"recipient": {"id": conversation.identity.address}, "sender_action": "typing_on"}
    ]
    # The interval is a Redis key with a time to live, so every server process sees it.
    ttl = _no_typing_slots.ttl(typing_service.typing_key(conversation.pk))
    assert 0 < ttl <= typing_service.TYPING_INTERVAL_SECONDS
    # Once the interval is over (the key expired), the next keystroke sends again.
    _no_typing_slots.delete(typing_service.typing_key(conversation.pk))
    assert actions.typing(agent=desk.first, params={"conversation_id": conversation.pk}) == {
        "sent": True
    }
    assert len(fake_provider.sent_to("messenger")) == 2


def test_the_interval_is_shared_by_processes_through_redis(desk, fake_provider, _no_typing_slots):
    conversation = owned(desk.first, kind="whatsapp", asset=desk.asset, provider_id="wamid.A1")
    # Another server process took the slot for this conversation a moment ago.
    assert _no_typing_slots.set(typing_service.typing_key(conversation.pk), 1, nx=True, ex=5)

    reply = actions.typing(agent=desk.first, params={"conversation_id": conversation.pk})

    assert reply == {"sent": False}
    assert fake_provider.sent_to("whatsapp") == []


def test_whatsapp_gets_the_typing_indicator_with_the_read_receipt(desk, fake_provider):
    conversation = owned(desk.first, kind="whatsapp", asset=desk.asset, provider_id="wamid.HBg1")
    Message.objects.create(
        tenant=desk.tenant,
        conversation=conversation,
        asset=desk.asset,
        direction=Direction.OUTBOUND,
        author_kind="agent",
        text="Einen Moment",
        provider_message_id="wamid.OUT",
        status="sent",
    )

    reply = actions.typing(agent=desk.first, params={"conversation_id": conversation.pk})

    assert reply == {"sent": True}
    assert [r["payload"] for r in fake_provider.sent_to("whatsapp")] == [
        {
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": "wamid.HBg1",
            "typing_indicator": {"type": "text"},
        }
    ]


def test_channels_without_typing_send_nothing_and_strangers_get_404(
    desk,
    sms_asset,  # noqa: F811
    fake_provider,
    other_tenant,
):
    conversation = owned(desk.first, kind="sms", asset=sms_asset)
    whatsapp = owned(desk.first, kind="whatsapp", asset=desk.asset, provider_id="wamid.B")
    stranger = make_agent(tenant=other_tenant, team=make_team(tenant=other_tenant, name="G"))

    assert actions.typing(agent=desk.first, params={"conversation_id": conversation.pk}) == {
        "sent": False
    }
    for agent in (stranger, desk.second):
        with pytest.raises(Http404):
            actions.typing(agent=agent, params={"conversation_id": whatsapp.pk})
    assert fake_provider.requests == 0
