from datetime import timedelta

import time_machine
from django.utils import timezone

from channels_app import services
from channels_app.models import Conversation, Message
from channels_app.tasks import close_inactive_conversations, purge_expired_transcripts
from tests.factories import ConversationFactory, MessageFactory


def test_closing_a_conversation_announces_it_once(
    whatsapp_asset, announced, django_capture_on_commit_callbacks
):
    conversation = ConversationFactory(asset=whatsapp_asset)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.conversation_close(
            conversation=conversation, reason="resolved", wrap_up_code="billing"
        )
        assert not services.conversation_close(conversation=conversation, reason="resolved")

    conversation.refresh_from_db()
    assert (conversation.status, conversation.close_reason, conversation.wrap_up_code) == (
        "closed",
        "resolved",
        "billing",
    )
    assert announced == [
        ("conversation.closed", {"conversation_id": conversation.pk, "reason": "resolved"})
    ]


def test_idle_conversations_close_after_the_tenants_inactivity_policy(
    whatsapp_asset, tenant, announced, django_capture_on_commit_callbacks
):
    tenant.policy.inactivity_close_minutes = 60
    tenant.policy.save()
    now = timezone.now()
    idle = ConversationFactory(asset=whatsapp_asset, last_message_at=now - timedelta(minutes=61))
    busy = ConversationFactory(asset=whatsapp_asset, last_message_at=now - timedelta(minutes=59))

    with django_capture_on_commit_callbacks(execute=True):
        assert close_inactive_conversations.delay().get() == 1

    idle.refresh_from_db()
    busy.refresh_from_db()
    assert (idle.status, idle.close_reason) == ("closed", "inactivity")
    assert busy.status == "open"
    assert announced == [
        ("conversation.closed", {"conversation_id": idle.pk, "reason": "inactivity"})
    ]

    with (
        time_machine.travel(now + timedelta(minutes=2)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert close_inactive_conversations.delay().get() == 1
    busy.refresh_from_db()
    assert busy.status == "closed"


def test_closed_transcripts_are_purged_after_the_retention_period(whatsapp_asset, tenant):
    tenant.policy.transcript_retention_days = 30
    tenant.policy.save()
    now = timezone.now()
    old = ConversationFactory(
        asset=whatsapp_asset, status="closed", closed_at=now - timedelta(days=31)
    )
    MessageFactory(conversation=old)
    recent = ConversationFactory(
        asset=whatsapp_asset, status="closed", closed_at=now - timedelta(days=29)
    )
    still_open = ConversationFactory(asset=whatsapp_asset, last_message_at=now - timedelta(days=90))

    assert purge_expired_transcripts.delay().get() == 1

    assert set(Conversation.objects.values_list("pk", flat=True)) == {recent.pk, still_open.pk}
    assert Message.objects.filter(conversation_id=old.pk).count() == 0
