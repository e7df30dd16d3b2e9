"""The shipped inbound flows' greetings: no dangling comma without a name, the customer's language
once it is known, channel names as customers know them; and migrating to these template versions
keeps an admin's own greeting."""

import copy

import pytest

from channels_app.models import Message
from channels_app.providers.base import InboundMessage
from channels_app.services import inbound_message_store
from routing.flows import services
from routing.flows.templates import template_load
from tests.routing.flows.conftest import whatsapp_wired

pytestmark = pytest.mark.django_db

TEXT_TEMPLATES = [
    "whatsapp_inbound",
    "messenger_inbound",
    "sms_inbound",
    "email_inbound",
    "chat_inbound",
    "channel_agnostic_inbound",
]


def _greeting(tenant, template: str, **kwargs) -> tuple[str, dict]:
    result = services.flow_dry_run(tenant=tenant, definition=template_load(template), **kwargs)
    sent = [a for a in result["actions"] if a["action"] == "send_message"]
    # chat and channel-agnostic flows first ask for the language; the greeting is the last send.
    message = sent[-1]
    return message["text"] or message["content"]["title"], result["variables"]


@pytest.mark.parametrize("template", [*TEXT_TEMPLATES, "apple_inbound"])
@pytest.mark.parametrize("name", ["", "4915100000001", "+49 151 0000001"])
def test_a_customer_without_a_name_is_greeted_without_a_gap(tenant, template, name):
    text, _ = _greeting(tenant, template, text="hello", customer_name=name)
    assert " ," not in text and " !" not in text and "  " not in text and " ?" not in text
    assert name.strip() == "" or name not in text
    assert text.split()[0] in ("Hi,", "Hello,", "Thanks!", "How")


@pytest.mark.parametrize("template", [*TEXT_TEMPLATES, "apple_inbound"])
def test_a_named_customer_is_greeted_by_name(tenant, template):
    text, _ = _greeting(tenant, template, text="hello", customer_name="Dana")
    assert "Dana" in text


@pytest.mark.parametrize("template", [*TEXT_TEMPLATES, "apple_inbound"])
@pytest.mark.parametrize(
    ("text", "language", "greeting"),
    [
        ("Guten Tag, ich brauche Hilfe", "de", ("Hallo", "Danke", "Wie")),
        ("Hola, necesito ayuda", "es", ("Hola", "¡Gracias", "¿En")),
    ],
)
def test_the_german_and_spanish_branches_greet_in_that_language(
    tenant, template, text, language, greeting
):
    replies = {"de": ["3"], "es": ["2"]}[language]
    sent, variables = _greeting(
        tenant, template, text=text, customer_name="Dana", replies=replies, channel="chat"
    )
    assert variables["language"] == language
    assert sent.startswith(greeting), sent
    assert "thanks" not in sent.lower() and "help" not in sent.lower()


@pytest.mark.parametrize(
    ("channel", "shown"), [("whatsapp", "WhatsApp"), ("messenger", "Messenger"), ("sms", "SMS")]
)
def test_greetings_name_the_channel_as_customers_know_it(tenant, channel, shown):
    text, variables = _greeting(
        tenant, "channel_agnostic_inbound", text="hi", customer_name="Dana", channel=channel
    )
    assert text == (
        f"Hi Dana, thanks for contacting us on {shown}. An agent will be with you shortly."
    )
    # The reportable variable keeps the channel's code.
    assert variables["channel"] == channel


def test_a_whatsapp_customer_without_a_profile_name_gets_a_clean_greeting(
    authorized, queues, http_server, django_capture_on_commit_callbacks
):

    asset = whatsapp_wired(
        tenant=authorized, http_server=http_server, phone_number_id="1000010", sent_id="wamid.OUT2"
    )
    with django_capture_on_commit_callbacks(execute=True):
        message, _ = inbound_message_store(
            asset=asset,
            item=InboundMessage(
                provider_message_id="wamid.IN2",
                sender_address="4915100000043",
                sender_name="",
                text="I need help with my order",
            ),
        )
    greeting = Message.objects.get(conversation=message.conversation, direction="out")
    assert greeting.text == (
        "Hi, thanks for contacting us on WhatsApp. An agent will be with you shortly."
    )


def test_migrating_to_the_new_greetings_keeps_the_admins_own_greeting(authorized, owner):
    version = services.flow_import(
        tenant=authorized, document=template_load("whatsapp_inbound", 2), user=owner
    )
    mine = copy.deepcopy(version.definition)
    mine["nodes"]["greet"]["text"] = "Welcome to Acme, {{customer_name}}!"
    draft = services.flow_version_create(flow=version.flow, definition=mine, user=owner)
    services.flow_version_publish(version=draft, user=owner)

    result = services.flow_migrate(flow=version.flow, user=owner)

    nodes = result.version.definition["nodes"]
    assert result.from_template_version == 2 and result.to_template_version == 3
    assert nodes["greet"]["text"] == "Welcome to Acme, {{customer_name}}!"
    assert result.kept_settings == ["greet.text"] and result.dropped_edges == []
    assert nodes["remember"]["next"] == "detect_language"
    assert nodes["set_german"]["next"] == "choose_greeting"
    assert nodes["choose_greeting"]["next"] == "greet"
    assert nodes["greet_de"]["text"].startswith("Hallo {{customer_name}}")
