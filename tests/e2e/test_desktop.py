"""The agent desktop in real headless Chromium against a real ASGI server."""

import time

import pytest
from django.test import Client
from playwright.sync_api import expect

from channels_app.models import Conversation, Message
from channels_app.sandbox.customer import customer_webhook
from routing.models import AgentState, Offer, OfferStatus
from routing.services import agent_state_set
from tests.e2e.conftest import post_webhook, screenshot

pytestmark = pytest.mark.e2e


def wait_until(predicate, timeout: float = 15.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def test_a_customer_message_becomes_an_offer_the_agent_accepts_answers_and_closes(
    contact_center, live, page_for, fake_provider
):
    page = page_for(contact_center.first.user)
    page.select_option("#state-select", "available")
    expect(page.locator("#state-badge")).to_have_text("available")

    response = post_webhook(
        customer_webhook(
            contact_center.asset,
            base_url=live.url,
            sender="4915112345678",
            text="Hallo, mein Paket ist nicht angekommen",
            name="Dana Kunde",
        )
    )
    assert response.status_code == 200

    offer = page.locator(".offer")
    expect(offer).to_be_visible(timeout=15000)
    expect(offer).to_contain_text("Dana Kunde")
    expect(offer).to_contain_text("Hallo, mein Paket ist nicht angekommen")
    expect(offer.locator(".countdown")).to_contain_text("Answer within")
    screenshot(page, "desktop-offer")

    offer.locator("button.accept").click()
    transcript = page.locator("#transcript")
    expect(transcript).to_contain_text("Hallo, mein Paket ist nicht angekommen")
    # The flow greets in German, the language the customer wrote in.
    expect(transcript).to_contain_text("danke für Ihre Nachricht über WhatsApp")

    page.fill("#composer textarea", "Das tut mir leid! Ich sehe sofort nach.")
    page.keyboard.press("Enter")
    expect(transcript).to_contain_text("Das tut mir leid! Ich sehe sofort nach.")
    sent = wait_until(
        lambda: [
            r
            for r in fake_provider.sent_to("whatsapp")
            if (r["payload"].get("text") or {}).get("body")
            == "Das tut mir leid! Ich sehe sofort nach."
        ]
    )
    assert sent[0]["payload"]["to"] == "4915112345678"
    screenshot(page, "desktop-conversation")

    page.select_option("#close-form select", label="Resolved")
    page.click("#close-form button")
    expect(page.locator("#panel")).to_contain_text("Conversation closed")
    conversation = Conversation.objects.get(customer__display_name="Dana Kunde")
    assert (conversation.status, conversation.wrap_up_code) == ("closed", "Resolved")
    assert AgentState.objects.get(agent=contact_center.first).engaged_social == 0


def test_an_unanswered_offer_sets_rona_and_goes_to_the_next_agent(contact_center, live, page_for):
    policy = contact_center.tenant.policy
    policy.rona_social_seconds = 5
    policy.save(update_fields=["rona_social_seconds"])
    page = page_for(contact_center.first.user)
    page.select_option("#state-select", "available")
    expect(page.locator("#state-badge")).to_have_text("available")
    agent_state_set(agent=contact_center.second, state="available")  # later: offered second

    post_webhook(
        customer_webhook(
            contact_center.asset,
            base_url=live.url,
            sender="4915100000001",
            text="Is anyone there?",
            name="Eli Waiting",
        )
    )
    expect(page.locator(".offer")).to_be_visible(timeout=15000)

    expect(page.locator("#state-badge")).to_have_text("RONA", timeout=15000)
    expect(page.locator(".offer")).to_have_count(0)
    screenshot(page, "desktop-rona")
    offers = wait_until(
        lambda: list(Offer.objects.filter(agent=contact_center.second, status=OfferStatus.PENDING))
    )
    assert offers[0].task.conversation.customer.display_name == "Eli Waiting"
    assert Offer.objects.get(agent=contact_center.first).status == OfferStatus.EXPIRED


def test_the_desktop_recovers_a_message_sent_while_its_socket_was_down(
    contact_center, live, page_for
):
    page = page_for(contact_center.first.user)
    page.select_option("#state-select", "available")
    post_webhook(
        customer_webhook(
            contact_center.asset,
            base_url=live.url,
            sender="4915100000002",
            text="First question",
            name="Fran Reconnect",
        )
    )
    page.locator(".offer button.accept").click(timeout=15000)
    expect(page.locator("#transcript")).to_contain_text("First question")

    live.stop()  # the server goes away: the socket drops
    expect(page.locator("#connection")).to_have_class("connection offline", timeout=15000)
    expect(page.locator("#connection")).to_contain_text("Connection lost")

    # Meanwhile the customer writes again (a signed webhook handled in-process).
    meanwhile = customer_webhook(
        contact_center.asset,
        base_url="http://testserver",
        sender="4915100000002",
        text="Are you still there?",
        name="Fran Reconnect",
    )
    answer = Client().post(
        meanwhile.url.replace("http://testserver", ""),
        data=meanwhile.body,
        content_type=meanwhile.headers["Content-Type"],
        HTTP_X_HUB_SIGNATURE_256=meanwhile.headers["X-Hub-Signature-256"],
    )
    assert answer.status_code == 200
    assert Message.objects.filter(text="Are you still there?").exists()

    live.start()
    expect(page.locator("#connection")).to_have_class("connection online", timeout=30000)
    expect(page.locator("#transcript")).to_contain_text("Are you still there?", timeout=15000)
    screenshot(page, "desktop-recovered")
