"""An agent's name for a customer outlives the conversation it was typed in."""

from channels_app.models import Conversation, Customer, Message
from channels_app.providers.base import InboundMessage
from channels_app.services import conversation_close, inbound_message_store
from routing.flows import services
from tests.routing.flows.conftest import whatsapp_wired


def _inbound(asset, message_id: str, name: str, text: str, capture, http_server=None):
    if http_server is not None:
        # Each greeting the flow sends gets an id of its own from the provider.
        route = f"/{asset.wa_phone_number_id}/messages"
        http_server.routes[route] = (200, {"messages": [{"id": f"out.{message_id}"}]}, 0)
    with capture(execute=True):
        message, _ = inbound_message_store(
            asset=asset,
            item=InboundMessage(
                provider_message_id=message_id,
                sender_address="4915100000077",
                sender_name=name,
                text=text,
            ),
        )
    return message.conversation


def test_the_agents_customer_name_wins_over_the_providers_in_the_next_conversation(
    authorized, queues, http_server, agent, django_capture_on_commit_callbacks
):
    asset = whatsapp_wired(
        tenant=authorized, http_server=http_server, phone_number_id="1000077", sent_id="wamid.O"
    )
    first = _inbound(
        asset, "wamid.A", "eva_1990", "Hi there", django_capture_on_commit_callbacks, http_server
    )
    first.refresh_from_db()
    assert first.variables["customer_name"] == "eva_1990"
    first.owner = agent
    first.save(update_fields=["owner"])

    services.conversation_variable_set(
        conversation=first, name="customer_name", value="Eva Example", agent=agent
    )
    conversation_close(conversation=first, reason="agent")
    # The provider still sends its profile name with the returning customer's next message.
    second = _inbound(
        asset, "wamid.B", "eva_1990", "Me again", django_capture_on_commit_callbacks, http_server
    )

    assert second.pk != first.pk and second.customer_id == first.customer_id
    second.refresh_from_db()
    customer = Customer.objects.get(pk=second.customer_id)
    assert customer.display_name == "Eva Example" and customer.name_set_by_agent
    assert second.variables["customer_name"] == "Eva Example"
    greeting = Message.objects.filter(conversation=second, direction="out").get()
    assert greeting.text.startswith("Hi Eva Example,")
    assert Conversation.objects.filter(customer=customer).count() == 2


def test_a_provider_name_still_fills_a_customer_nobody_named(
    authorized, queues, http_server, django_capture_on_commit_callbacks
):
    asset = whatsapp_wired(
        tenant=authorized, http_server=http_server, phone_number_id="1000078", sent_id="wamid.P"
    )
    conversation = _inbound(
        asset, "wamid.C", "", "Hello", django_capture_on_commit_callbacks, http_server
    )
    conversation_close(conversation=conversation, reason="agent")
    again = _inbound(
        asset, "wamid.D", "Finn", "Hello again", django_capture_on_commit_callbacks, http_server
    )

    assert Customer.objects.get(pk=again.customer_id).display_name == "Finn"


def test_an_agent_who_clears_the_name_is_not_overruled_by_the_provider(
    authorized, queues, http_server, agent, django_capture_on_commit_callbacks
):
    from channels_app.services.customers import customer_profile_update

    asset = whatsapp_wired(
        tenant=authorized, http_server=http_server, phone_number_id="1000079", sent_id="wamid.Q"
    )
    conversation = _inbound(
        asset, "wamid.E", "Spam Name", "Hi", django_capture_on_commit_callbacks, http_server
    )
    customer_profile_update(customer=conversation.customer, display_name="")
    conversation_close(conversation=conversation, reason="agent")
    again = _inbound(
        asset, "wamid.F", "Spam Name", "Hi", django_capture_on_commit_callbacks, http_server
    )

    assert Customer.objects.get(pk=again.customer_id).display_name == ""
