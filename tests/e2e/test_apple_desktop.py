"""Apple Messages in the agent desktop, in real Chromium: the agent builds and sends a list picker,
the sandbox customer answers it, and the answer shows in the transcript and, without a reload, as
a flow variable (while a variable the agent is editing keeps the draft)."""

import re
import time

import pytest
from playwright.sync_api import expect

from channels_app.models import ChannelKind, Conversation
from channels_app.sandbox.customer import apple_list_picker_answer, apple_message, sign_apple
from routing.flows.models import AuthorizableNode
from routing.flows.services import flow_import, node_authorization_authorize
from routing.models import EntryPoint
from tests.e2e.conftest import post_webhook
from tests.factories import ChannelAssetFactory
from tests.routing.factories import make_agent, make_queue, make_team

pytestmark = pytest.mark.e2e

CUSTOMER = "urn:mbid:AQAAYe2e-customer"
# Queue the contact, then wait for the customer's next answer and keep the chosen item.
FLOW = {
    "schema_version": 1,
    "name": "Apple: queue, then note the chosen item",
    "kind": "inbound_message",
    "start": "start",
    "variables": [
        {"name": "choice", "type": "string", "agent_visible": True},
        {"name": "note", "type": "string", "agent_visible": True, "agent_editable": True},
    ],
    "nodes": {
        "start": {"type": "start", "trigger": "inbound_message", "next": "queue"},
        "queue": {"type": "queue_task", "queue": "Support", "next": "wait"},
        "wait": {
            "type": "wait_for_reply",
            "timeout_seconds": 3600,
            "next": "remember",
            "on_timeout": None,
        },
        "remember": {
            "type": "set_variables",
            "assignments": [{"name": "choice", "value": "{{message.content.selected_title}}"}],
            "next": None,
        },
    },
}


def conversation_vars(conversation) -> dict:
    conversation.refresh_from_db()
    return conversation.variables


def wait_until(predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_an_agent_sends_a_list_picker_and_the_answer_shows_with_its_variable(
    tenant, live, page_for, fake_provider
):
    asset = ChannelAssetFactory(
        tenant=tenant,
        kind=ChannelKind.APPLE,
        name="Acme Apple",
        apple_business_id="acme-business",
        apple_msp_id="acme-msp",
        apple_msp_secret="YWNtZS1tc3Atc2VjcmV0",
        api_base_url=f"{fake_provider.base_url}/apple",
    )
    for node in (AuthorizableNode.TASK, AuthorizableNode.ENGAGE):
        node_authorization_authorize(tenant=tenant, node=node, user=None)
    team = make_team(tenant=tenant, name="Support team", max_social=2)
    make_queue(tenant=tenant, teams=[team], name="Support", channel_type="social")
    EntryPoint.objects.create(
        tenant=tenant,
        name="Apple entry",
        channel_type="social",
        social_channel_type="apple",
        asset=asset,
        flow=flow_import(tenant=tenant, document=FLOW).flow,
    )
    agent = make_agent(tenant=tenant, team=team, name="Alex")

    page = page_for(agent.user)
    page.select_option("#state-select", "available")
    expect(page.locator("#state-badge")).to_have_text("available")
    hello = apple_message(asset, sender=CUSTOMER, text="Hallo, eine Frage")
    assert post_webhook(sign_apple(asset, live.url, hello)).status_code == 200
    offer = page.locator(".offer")
    expect(offer).to_be_visible(timeout=15000)
    offer.locator("button.accept").click()
    transcript = page.locator("#transcript")
    expect(transcript).to_contain_text("Hallo, eine Frage")

    page.click(".list-picker-toggle")
    builder = page.locator("#list-picker-builder")
    builder.locator('[name="list-title"]').fill("Wobei können wir helfen?")
    builder.locator('[name="list-item"]').nth(0).fill("Bestellung")
    builder.locator('[name="list-item"]').nth(1).fill("Rechnung")
    builder.locator(".list-picker-send").click()
    expect(transcript).to_contain_text("Wobei können wir helfen?")
    [sent] = wait_until(lambda: fake_provider.sent_to("apple"))
    assert sent["payload"]["type"] == "interactive"

    # The agent is halfway through a note when the answer arrives; the page is never reloaded.
    page.evaluate("window.sameDocument = true")
    note = page.locator('#variables [data-variable="note"]')
    note.fill("ruft zurück")
    answer = apple_list_picker_answer(sent["payload"], "item-1")
    signed = sign_apple(asset, live.url, apple_message(asset, sender=CUSTOMER, interactive=answer))
    assert post_webhook(signed).status_code == 200

    expect(transcript).to_contain_text("list picker · chose item-1", timeout=15000)
    conversation = Conversation.objects.get(asset=asset)
    assert conversation.messages.latest("id").content["selected_id"] == "item-1"
    assert wait_until(lambda: conversation_vars(conversation).get("choice")) == "Bestellung"
    choice = page.locator('#variables [data-variable-name="choice"]')
    expect(choice).to_contain_text("Bestellung", timeout=15000)
    expect(choice).to_have_class(re.compile(r"\bupdated\b"))
    expect(note).to_have_value("ruft zurück")
    expect(note).to_be_focused()
    assert page.evaluate("window.sameDocument") is True
    # On a phone the variables are in the details pane, with the same values.
    page.set_viewport_size({"width": 390, "height": 844})
    page.click("[data-pane-target=details]")
    choice.scroll_into_view_if_needed()
    expect(choice).to_be_in_viewport()
    expect(note).to_have_value("ruft zurück")

    # Still on the phone: the builder (still open, in the conversation pane) sends a rich link.
    page.click("[data-pane-target=conversation]")
    expect(builder).to_be_visible()
    builder.locator('[name="rich-kind"]').select_option("rich_link")
    expect(builder.locator('[name="list-item"]').first).to_be_hidden()
    builder.locator('[name="list-title"]').fill("Sendungsverfolgung")
    builder.locator('[name="rich-url"]').fill("https://example.com/track/1")
    builder.locator(".list-picker-send").click()
    expect(transcript).to_contain_text("Sendungsverfolgung", timeout=15000)
    link = wait_until(
        lambda: [r for r in fake_provider.sent_to("apple") if r["payload"]["type"] == "richLink"]
    )
    assert link[0]["payload"]["richLinkData"]["url"] == "https://example.com/track/1"
