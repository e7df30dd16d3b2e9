"""The desktop's customer panel and canned responses in headless Chromium: a returning customer's
earlier conversation, a canned response filled and sent, and the panel on a phone."""

import time

import pytest
from playwright.sync_api import expect

from channels_app.models import (
    AuthorKind,
    Conversation,
    Customer,
    CustomerIdentity,
    DeliveryStatus,
    Direction,
    Message,
)
from channels_app.sandbox.customer import customer_webhook
from routing.models import CannedResponse
from tests.e2e.conftest import post_webhook, screenshot

pytestmark = pytest.mark.e2e

SENDER = "4915100000099"


def wait_until(predicate, timeout: float = 15.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def _earlier_conversation(cc) -> Conversation:
    """Dana wrote last month; that conversation is closed."""
    customer = Customer.objects.create(tenant=cc.tenant, display_name="Dana Kunde")
    identity = CustomerIdentity.objects.create(
        tenant=cc.tenant, customer=customer, kind="whatsapp", address=SENDER
    )
    earlier = Conversation.objects.create(
        tenant=cc.tenant,
        asset=cc.asset,
        customer=customer,
        identity=identity,
        kind="whatsapp",
        status="closed",
    )
    Message.objects.create(
        tenant=cc.tenant,
        conversation=earlier,
        asset=cc.asset,
        direction=Direction.INBOUND,
        author_kind=AuthorKind.CUSTOMER,
        text="My router from last month is blinking red",
        status=DeliveryStatus.RECEIVED,
    )
    return earlier


def test_a_returning_customers_history_and_a_canned_response_on_desktop_and_phone(
    contact_center, live, page_for, fake_provider
):
    cc = contact_center
    _earlier_conversation(cc)
    CannedResponse.objects.create(
        tenant=cc.tenant,
        shortcut="thanks",
        title="Thank the customer",
        text="Thanks {{customer.name}}, {{agent.name}} here ({{conversation.language}}).",
    )
    CannedResponse.objects.create(
        tenant=cc.tenant, shortcut="bye", title="Goodbye", text="Goodbye {{customer.name}}!"
    )
    page = page_for(cc.first.user)
    page.select_option("#state-select", "available")
    expect(page.locator("#state-badge")).to_have_text("available")

    post_webhook(
        customer_webhook(
            cc.asset, base_url=live.url, sender=SENDER, text="Hello, it is me again", name="Dana"
        )
    )
    offer = page.locator(".offer")
    expect(offer).to_be_visible(timeout=15000)
    offer.locator("button.accept").click()
    expect(page.locator("#transcript")).to_contain_text("Hello, it is me again")

    # The earlier conversation is listed in the customer panel and opens read-only.
    panel = page.locator("#customer-panel")
    expect(panel.locator("#customer-name")).to_have_value("Dana Kunde")
    history = panel.locator(".history-open")
    expect(history).to_have_count(1)
    history.click()
    expect(panel.locator("#customer-history-view")).to_contain_text(
        "My router from last month is blinking red"
    )
    panel.locator(".history-close").click()
    expect(panel.locator("#customer-history-view")).to_be_hidden()

    # "/" opens the picker; typing filters it; the keyboard chooses; Enter sends.
    box = page.locator("#composer textarea")
    box.click()
    page.keyboard.type("/")
    picker = page.locator("#canned-picker")
    expect(picker.locator("[role=option]")).to_have_count(2)
    page.keyboard.type("tha")
    expect(picker.locator("[role=option]")).to_have_count(1)
    expect(picker).to_contain_text("/thanks")
    page.keyboard.press("Enter")
    expect(box).to_have_value("Thanks Dana Kunde, Alex here (en).")
    expect(picker).to_be_hidden()
    screenshot(page, "desktop-canned-response")
    page.keyboard.press("Enter")

    expect(page.locator("#transcript")).to_contain_text("Thanks Dana Kunde, Alex here (en).")
    sent = wait_until(
        lambda: [
            r
            for r in fake_provider.sent_to("whatsapp")
            if (r["payload"].get("text") or {}).get("body") == "Thanks Dana Kunde, Alex here (en)."
        ]
    )
    assert sent[0]["payload"]["to"] == SENDER

    # On a phone the panel sits in the details pane, fits the screen and still works, and the
    # page has no horizontal scroll.
    page.set_viewport_size({"width": 390, "height": 844})
    page.click("[data-pane-target=details]")
    panel.scroll_into_view_if_needed()
    box_of_panel = panel.bounding_box()
    assert box_of_panel["x"] >= 0 and box_of_panel["x"] + box_of_panel["width"] <= 390
    assert page.evaluate(
        "() => { const p = document.getElementById('customer-panel');"
        " return p.scrollWidth <= p.clientWidth && Array.from(p.querySelectorAll('*'))"
        ".every((e) => e.getBoundingClientRect().right <= 390); }"
    )
    page.fill("#customer-name", "Dana K.")
    page.fill("#customer-tags", "returning, router")
    panel.get_by_role("button", name="Save profile").click()
    expect(panel.locator(".customer-saved")).to_have_text("Saved.")
    history.click()
    expect(panel.locator("#customer-history-view")).to_contain_text("blinking red")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "desktop-customer-panel-phone")
    customer = Customer.objects.get(identities__address=SENDER)
    assert (customer.display_name, customer.tags) == ("Dana K.", ["returning", "router"])
    assert customer.name_set_by_agent
