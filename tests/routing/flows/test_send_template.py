"""The send-message node's WhatsApp template: what goes out when free text cannot."""

from datetime import timedelta

import pytest
from django.utils import timezone

from channels_app.models import Conversation, Message
from routing.flows import services
from tests.channels_app.conftest import _fake_provider_server, fake_provider  # noqa: F401
from tests.routing.flows.conftest import flow_doc, open_conversation
from tests.routing.flows.test_nodes import outcome, run

pytestmark = pytest.mark.django_db

REMINDER = {
    "type": "send_message",
    "text": "Ihr Paket {{ref}} kommt morgen.",
    "template": {
        "name": "order_update",
        "language": "de_DE",
        "parameters": ["{{customer.name}}", "{{ref}}", "morgen"],
    },
    "next": "done",
    "on_error": "failed",
}
REF = [{"name": "ref", "type": "string", "default": "A-1042"}]


@pytest.fixture
def wa_conversation(asset, fake_provider):  # noqa: F811
    asset.api_base_url = f"{fake_provider.base_url}/whatsapp"
    asset.wa_business_account_id = "102290129340398"
    asset.access_token = "test-access-token"
    asset.save(update_fields=["api_base_url", "wa_business_account_id", "access_token"])
    return open_conversation(asset)


def sent(conversation) -> Message:
    return Message.objects.get(conversation=conversation, direction="out")


def test_with_the_window_closed_the_node_sends_its_template_with_variables_filled_in(
    publish, wa_conversation
):
    Conversation.objects.filter(pk=wa_conversation.pk).update(
        last_inbound_at=timezone.now() - timedelta(days=2)
    )

    result = run(publish, wa_conversation, {"remind": REMINDER}, variables=REF)

    assert result.steps.get(node_id="remind").error == ""
    message = sent(wa_conversation)
    assert message.content_type == "template"
    assert message.text == (
        "Hallo Dana Customer, Ihre Bestellung A-1042 ist unterwegs und kommt am morgen an."
    )
    assert message.content["template"]["components"][0]["parameters"][1] == {
        "type": "text",
        "text": "A-1042",
    }
    assert outcome(wa_conversation) == "done"


def test_with_the_window_open_the_node_sends_its_text(publish, wa_conversation):
    run(publish, wa_conversation, {"remind": REMINDER}, variables=REF)

    message = sent(wa_conversation)
    assert (message.content_type, message.text) == ("text", "Ihr Paket A-1042 kommt morgen.")


def test_a_node_with_only_a_template_sends_it_inside_the_window_too(publish, wa_conversation):
    node = {k: v for k, v in REMINDER.items() if k != "text"}

    run(publish, wa_conversation, {"remind": node}, variables=REF)

    assert sent(wa_conversation).content_type == "template"


def test_an_unknown_template_takes_the_error_path_with_the_reason(publish, wa_conversation):
    node = {**REMINDER, "template": {"name": "no_such_thing", "language": "en_US"}}
    Conversation.objects.filter(pk=wa_conversation.pk).update(last_inbound_at=None)

    result = run(publish, wa_conversation, {"remind": node}, variables=REF)

    assert "is not an approved template" in result.steps.get(node_id="remind").error
    assert outcome(wa_conversation) == "error path"


def test_on_another_channel_a_template_only_node_takes_the_error_path(publish, tenant):
    from channels_app.models import ChannelAsset

    messenger = ChannelAsset.objects.create(
        tenant=tenant, kind="messenger", name="Acme page", fb_page_id="77"
    )
    conversation = open_conversation(messenger, address="psid-1")
    node = {k: v for k, v in REMINDER.items() if k != "text"}

    result = run(publish, conversation, {"remind": node}, variables=REF)

    assert "WhatsApp feature" in result.steps.get(node_id="remind").error
    assert outcome(conversation) == "error path"


@pytest.mark.parametrize(
    ("template", "field"),
    [
        ({"name": "Order Update", "language": "en_US"}, "name"),
        ({"name": "order_update"}, "language"),
        ({"name": "order_update", "language": "en_US", "parameters": [""]}, "parameters"),
        ({"name": "order_update", "language": "en_US", "header": "x"}, "header"),
    ],
)
def test_a_malformed_template_option_fails_validation_with_where_it_is(tenant, template, field):
    document = flow_doc({"remind": {"type": "send_message", "template": template, "next": None}})

    problems = services.flow_validate(tenant=tenant, definition=document, check_authorization=False)

    assert problems, "expected a validation problem"
    assert any("remind" in str(p) and field in str(p) for p in problems), problems


def test_a_dry_run_shows_the_template_it_would_send(tenant):
    document = flow_doc({"remind": {**REMINDER, "next": None, "on_error": None}}, variables=REF)

    result = services.flow_dry_run(tenant=tenant, definition=document, customer_name="Dana")

    [action] = result["actions"]
    assert action["template"] == {
        "name": "order_update",
        "language": "de_DE",
        "parameters": ["Dana", "A-1042", "morgen"],
    }
