from datetime import timedelta

import pytest
from django.utils import timezone

from channels_app import services
from channels_app.models import Conversation, DeliveryStatus, Direction, Message
from channels_app.services import SendRefused
from channels_app.tasks import deliver_message
from tests.factories import ConversationFactory, CustomerIdentityFactory, MessageFactory


@pytest.fixture
def whatsapp_conversation(whatsapp_asset):
    return ConversationFactory(
        asset=whatsapp_asset,
        last_inbound_at=timezone.now() - timedelta(hours=1),
        identity__address="4915112345678",
    )


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    def run(**kwargs) -> Message:
        with django_capture_on_commit_callbacks(execute=True):
            message = services.message_send(**kwargs)
        message.refresh_from_db()
        return message

    return run


def test_an_agent_reply_on_whatsapp_is_sent_and_gets_the_providers_id(
    send, whatsapp_conversation, agent, fake_provider, announced
):
    message = send(
        conversation=whatsapp_conversation,
        text="Gern, ich schaue nach.",
        author_kind="agent",
        author_agent=agent,
    )

    assert message.status == DeliveryStatus.SENT
    assert message.sent_at is not None
    assert message.send_attempts == 1
    [record] = fake_provider.sent_to("whatsapp")
    assert record["path"] == "/whatsapp/106540352242922/messages"
    assert record["payload"] == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "4915112345678",
        "type": "text",
        "text": {"body": "Gern, ich schaue nach.", "preview_url": False},
    }
    assert record["idempotency_key"] == str(message.idempotency_key)
    assert message.provider_message_id == record["answer"]["messages"][0]["id"]
    assert (
        "message.sent",
        {"message_id": message.pk, "conversation_id": whatsapp_conversation.pk},
    ) in announced


def test_a_reply_quotes_the_customers_message(send, whatsapp_conversation, fake_provider):
    theirs = MessageFactory(conversation=whatsapp_conversation, provider_message_id="wamid.THEIRS")

    send(
        conversation=whatsapp_conversation,
        text="Zu dieser Nachricht:",
        author_kind="agent",
        reply_to=theirs,
    )

    assert fake_provider.sent_to("whatsapp")[0]["payload"]["context"] == {
        "message_id": "wamid.THEIRS"
    }


@pytest.mark.parametrize("status", [500, 503, 429])
def test_transient_failures_are_retried_until_the_send_succeeds(
    send, whatsapp_conversation, fake_provider, status
):
    fake_provider.fail_next(status=status, times=2)

    message = send(conversation=whatsapp_conversation, text="Hallo", author_kind="bot")

    assert message.status == DeliveryStatus.SENT
    assert message.send_attempts == 3
    assert len(fake_provider.sent_to("whatsapp")) == 1


def test_a_provider_that_keeps_failing_leaves_the_message_failed_after_the_last_retry(
    send, whatsapp_conversation, fake_provider
):
    fake_provider.fail_next(status=503, times=100)

    message = send(conversation=whatsapp_conversation, text="Hallo", author_kind="bot")

    assert message.status == DeliveryStatus.FAILED
    assert message.failure_reason.startswith("gave up after 6 attempts: HTTP 503")
    assert fake_provider.sent_to("whatsapp") == []


def test_a_permanent_failure_is_failed_at_once_with_the_providers_reason(
    send, whatsapp_conversation, fake_provider
):
    fake_provider.fail_next(
        status=400, message="(#131030) Recipient phone number not in allowed list"
    )

    message = send(conversation=whatsapp_conversation, text="Hallo", author_kind="agent")

    assert message.status == DeliveryStatus.FAILED
    assert message.send_attempts == 1
    assert (
        message.failure_reason
        == "HTTP 400: (#131030) Recipient phone number not in allowed list [code 100]"
    )
    assert message.failed_at is not None


def test_a_message_is_never_sent_twice_when_its_task_runs_again(
    send, whatsapp_conversation, fake_provider
):
    message = send(conversation=whatsapp_conversation, text="Hallo", author_kind="agent")

    assert deliver_message.delay(message.pk).get() == "skipped"
    assert len(fake_provider.sent_to("whatsapp")) == 1


def test_a_message_held_by_another_worker_is_not_sent_again(whatsapp_conversation, fake_provider):
    message = MessageFactory(
        conversation=whatsapp_conversation,
        direction=Direction.OUTBOUND,
        author_kind="agent",
        status=DeliveryStatus.PENDING,
        send_claimed_until=timezone.now() + timedelta(seconds=30),
    )

    assert services.message_deliver(message_id=message.pk) == "skipped"
    assert fake_provider.sent_to("whatsapp") == []


def test_a_resend_after_a_lost_answer_uses_the_same_idempotency_key(
    whatsapp_conversation, fake_provider
):
    """The worker died after the provider accepted the message: the retry gets the same provider id."""
    from channels_app.providers.whatsapp import PROVIDER

    message = MessageFactory(
        conversation=whatsapp_conversation,
        direction=Direction.OUTBOUND,
        author_kind="agent",
        text="Hallo",
        status=DeliveryStatus.PENDING,
        send_claimed_until=timezone.now() - timedelta(seconds=1),
    )
    first = PROVIDER.transport(message.asset).send(
        message=message, to="4915112345678", idempotency_key=str(message.idempotency_key)
    )

    assert services.message_deliver(message_id=message.pk) == "sent"

    message.refresh_from_db()
    assert message.provider_message_id == first.provider_message_id
    assert len(fake_provider.sent_to("whatsapp")) == 1


def test_free_text_outside_the_24_hour_window_is_refused_with_a_clear_error(
    whatsapp_asset, fake_provider
):
    conversation = ConversationFactory(
        asset=whatsapp_asset, last_inbound_at=timezone.now() - timedelta(hours=25)
    )

    with pytest.raises(SendRefused, match="within 24 hours"):
        services.message_send(conversation=conversation, text="Noch da?", author_kind="agent")

    assert Message.objects.count() == 0
    assert fake_provider.sent_to("whatsapp") == []


def test_an_approved_template_may_be_sent_outside_the_window(send, whatsapp_asset, fake_provider):
    conversation = ConversationFactory(
        asset=whatsapp_asset, last_inbound_at=timezone.now() - timedelta(days=3)
    )

    message = send(
        conversation=conversation,
        author_kind="agent",
        template={
            "name": "reengage_customer",
            "language": "de",
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "Kerry"}]}],
        },
    )

    assert message.status == DeliveryStatus.SENT
    assert message.content_type == "template"
    payload = fake_provider.sent_to("whatsapp")[0]["payload"]
    assert payload["type"] == "template"
    assert payload["template"]["name"] == "reengage_customer"
    assert payload["template"]["language"] == {"code": "de"}


def test_an_unknown_template_fails_with_the_providers_reason(send, whatsapp_asset, fake_provider):
    conversation = ConversationFactory(asset=whatsapp_asset, last_inbound_at=None)

    message = send(
        conversation=conversation, author_kind="agent", template={"name": "no_such_template"}
    )

    assert message.status == DeliveryStatus.FAILED
    assert "132001" in message.failure_reason


def test_the_window_counts_from_the_customers_last_message_in_any_conversation(whatsapp_asset):
    identity = CustomerIdentityFactory(customer__tenant=whatsapp_asset.tenant)
    ConversationFactory(
        asset=whatsapp_asset,
        identity=identity,
        customer=identity.customer,
        status=Conversation.Status.CLOSED,
        last_inbound_at=timezone.now() - timedelta(hours=2),
    )
    fresh = ConversationFactory(
        asset=whatsapp_asset, identity=identity, customer=identity.customer, last_inbound_at=None
    )

    assert services.whatsapp_window_open(conversation=fresh) is True


def test_a_closed_conversation_refuses_new_messages(whatsapp_conversation):
    services.conversation_close(conversation=whatsapp_conversation, reason="resolved")

    with pytest.raises(SendRefused, match="closed"):
        services.message_send(conversation=whatsapp_conversation, text="Hallo", author_kind="agent")


def test_empty_text_is_refused(whatsapp_conversation):
    with pytest.raises(SendRefused, match="needs text"):
        services.message_send(conversation=whatsapp_conversation, text="  ", author_kind="agent")


def test_a_messenger_reply_goes_to_the_send_api(send, messenger_asset, fake_provider):
    conversation = ConversationFactory(asset=messenger_asset, identity__address="7300000000000001")

    message = send(conversation=conversation, text="Your order ships today.", author_kind="agent")

    assert message.status == DeliveryStatus.SENT
    [record] = fake_provider.sent_to("messenger")
    assert record["path"] == "/messenger/109876543210987/messages"
    assert record["payload"] == {
        "recipient": {"id": "7300000000000001"},
        "messaging_type": "RESPONSE",
        "message": {"text": "Your order ships today."},
    }
    assert message.provider_message_id == record["answer"]["message_id"]


def test_an_sms_reply_goes_to_the_twilio_messages_resource(send, sms_asset, fake_provider):
    conversation = ConversationFactory(asset=sms_asset, identity__address="+4915112345678")

    message = send(conversation=conversation, text="Ihr Paket kommt morgen.", author_kind="agent")

    assert message.status == DeliveryStatus.SENT
    [record] = fake_provider.sent_to("sms")
    assert (
        record["path"]
        == "/sms/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json"
    )
    assert record["payload"] == {
        "To": "+4915112345678",
        "From": "+15005550006",
        "Body": "Ihr Paket kommt morgen.",
    }
    assert message.provider_message_id.startswith("SM")


def test_an_sms_to_an_invalid_number_fails_with_twilios_reason(send, sms_asset, fake_provider):
    conversation = ConversationFactory(asset=sms_asset, identity__address="12345")

    message = send(conversation=conversation, text="Hallo", author_kind="agent")

    assert message.status == DeliveryStatus.FAILED
    assert "[code 21211]" in message.failure_reason


def test_seen_messages_send_one_whatsapp_read_receipt_for_the_newest(
    whatsapp_conversation, agent, fake_provider, django_capture_on_commit_callbacks
):
    whatsapp_conversation.owner = agent
    whatsapp_conversation.save(update_fields=["owner"])
    now = timezone.now()
    older = MessageFactory(
        conversation=whatsapp_conversation,
        provider_message_id="wamid.A",
        created_at=now - timedelta(minutes=2),
    )
    newer = MessageFactory(
        conversation=whatsapp_conversation, provider_message_id="wamid.B", created_at=now
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert services.message_mark_seen(message_ids=[older.pk, newer.pk], agent=agent) == 2

    older.refresh_from_db()
    assert older.seen_at is not None
    assert [r["payload"] for r in fake_provider.sent_to("whatsapp")] == [
        {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.B"}
    ]
    with django_capture_on_commit_callbacks(execute=True):
        assert services.message_mark_seen(message_ids=[older.pk, newer.pk], agent=agent) == 0
    assert len(fake_provider.sent_to("whatsapp")) == 1


def test_an_agent_who_does_not_own_the_conversation_marks_nothing_seen(
    whatsapp_conversation, agent, fake_provider
):
    message = MessageFactory(conversation=whatsapp_conversation, provider_message_id="wamid.A")

    assert services.message_mark_seen(message_ids=[message.pk], agent=agent) == 0
    message.refresh_from_db()
    assert message.seen_at is None


def test_a_seen_messenger_message_sends_mark_seen(
    messenger_asset, agent, fake_provider, django_capture_on_commit_callbacks
):
    conversation = ConversationFactory(
        asset=messenger_asset, owner=agent, identity__address="7300000000000001"
    )
    message = MessageFactory(conversation=conversation, provider_message_id="m_A")

    with django_capture_on_commit_callbacks(execute=True):
        services.message_mark_seen(message_ids=[message.pk], agent=agent)

    assert fake_provider.sent_to("messenger")[0]["payload"] == {
        "recipient": {"id": "7300000000000001"},
        "sender_action": "mark_seen",
    }
