"""A shift on the desktop in headless Chromium: offers that reach a hidden tab, handing a
conversation to a colleague with its history and a note, a phone-sized screen, and axe-core's
accessibility check."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from channels_app.models import Conversation
from channels_app.sandbox.customer import customer_webhook
from routing.models import AgentPreference, ConversationNote
from routing.services import agent_state_set
from tests.e2e.conftest import PASSWORD, post_webhook, screenshot

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}

# Records notifications and permission requests, and lets the test hide the tab.
RECORDER = """
(() => {
  window.__notes = [];
  window.__permissionAsked = 0;
  window.__hidden = false;
  Object.defineProperty(document, "hidden", { configurable: true, get: () => window.__hidden });
  Object.defineProperty(document, "visibilityState", {
    configurable: true, get: () => (window.__hidden ? "hidden" : "visible"),
  });
  const Real = window.Notification;
  if (!Real) return;
  function Recorded(title, options) {
    window.__notes.push({ title, body: (options || {}).body || "" });
    return new Real(title, options);
  }
  Object.defineProperty(Recorded, "permission", { get: () => Real.permission });
  Recorded.requestPermission = (...args) => { window.__permissionAsked += 1; return Real.requestPermission(...args); };
  Recorded.prototype = Real.prototype;
  window.Notification = Recorded;
})();
"""


def sign_in(browser, live, user, *, viewport=None, permissions=()):
    context = browser.new_context(viewport=viewport or {"width": 1280, "height": 800})
    if permissions:
        context.grant_permissions(list(permissions), origin=live.url)
    context.add_init_script(RECORDER)
    page = context.new_page()
    page.goto(f"{live.url}/accounts/login/?next=/desktop/")
    page.fill("input[name=username]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}/desktop/")
    page.wait_for_selector("#connection.online")
    return context, page


def customer_writes(cc, live, *, sender: str, text: str, name: str) -> None:
    response = post_webhook(
        customer_webhook(cc.asset, base_url=live.url, sender=sender, text=text, name=name)
    )
    assert response.status_code == 200


def serious_violations(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_an_offer_in_a_hidden_tab_rings_notifies_and_shows_in_the_title(
    contact_center, live, browser
):
    context, page = sign_in(browser, live, contact_center.first.user)
    try:
        # Nothing is asked on load; the button asks, from the agent's click.
        notify_button = page.locator("#notify-enable")
        expect(notify_button).to_be_visible()
        assert page.evaluate("window.__permissionAsked") == 0
        notify_button.click()
        page.wait_for_function("window.__permissionAsked === 1")
        context.grant_permissions(["notifications"], origin=live.url)
        page.select_option("#state-select", "available")
        expect(page.locator("#state-badge")).to_have_text("available")
        page.evaluate("window.__hidden = true")

        customer_writes(
            contact_center, live, sender="4915100000101", text="Hallo?", name="Hanna Hidden"
        )

        expect(page.locator(".offer")).to_be_visible(timeout=15000)
        page.wait_for_function("window.__notes.length === 1")
        notes = page.evaluate("window.__notes")
        assert notes[0]["title"] == "New offer: Hanna Hidden"
        assert "Support" in notes[0]["body"]
        expect(page).to_have_title(f"(1) 1 offer · Agent desktop · {contact_center.first}")
        assert page.evaluate("window.deskAlerts.played") == 1
        page.wait_for_function(
            "document.getElementById('favicon').href.startsWith('data:image/png')"
        )

        # Muting is kept on the server: a new page (any browser) starts muted.
        page.evaluate("window.__hidden = false")
        page.click("#sound-toggle")
        expect(page.locator("#sound-toggle")).to_have_text("Sound off")
        expect(page.locator("#sound-toggle")).to_have_attribute("aria-pressed", "true")
        assert AgentPreference.objects.get(agent=contact_center.first).sound_muted
        page.reload()
        page.wait_for_selector("#connection.online")
        expect(page.locator("#sound-toggle")).to_have_text("Sound off")
        page.locator(".offer button.accept").click()
        expect(page.locator("#transcript")).to_contain_text("Hallo?")
        expect(page).to_have_title(f"Agent desktop · {contact_center.first}")
    finally:
        context.close()


def test_a_transfer_reaches_the_colleague_as_an_offer_with_the_history_and_the_note(
    contact_center, live, browser
):
    first_context, first = sign_in(browser, live, contact_center.first.user)
    second_context, second = sign_in(browser, live, contact_center.second.user)
    try:
        first.select_option("#state-select", "available")
        expect(first.locator("#state-badge")).to_have_text("available")
        customer_writes(
            contact_center,
            live,
            sender="4915100000102",
            text="Meine Rechnung ist falsch",
            name="Tom Transfer",
        )
        first.locator(".offer button.accept").click(timeout=15000)
        expect(first.locator("#transcript")).to_contain_text("Meine Rechnung ist falsch")
        first.fill("#note-text", "Rechnung 4711 geprüft, bitte Gutschrift")
        first.click("#note-form button")
        expect(first.locator("#transcript .note")).to_contain_text("Rechnung 4711 geprüft")
        assert serious_violations(first) == []

        second.select_option("#state-select", "available")
        expect(second.locator("#state-badge")).to_have_text("available")
        first.click(".transfer-toggle")
        agent_select = first.locator("#transfer-form select[name=to_agent_id]")
        expect(agent_select.locator("option", has_text=str(contact_center.second))).to_have_count(1)
        agent_select.select_option(label=str(contact_center.second))
        first.click("#transfer-form button[type=submit]")
        expect(first.locator("#panel")).to_contain_text("Transferred to")

        offer = second.locator(".offer")
        expect(offer).to_be_visible(timeout=15000)
        expect(offer).to_contain_text("Tom Transfer")
        expect(offer).to_contain_text(f"Transferred by {contact_center.first}")
        offer.locator("button.accept").click()
        transcript = second.locator("#transcript")
        expect(transcript).to_contain_text("Meine Rechnung ist falsch")
        expect(transcript.locator(".note")).to_contain_text("bitte Gutschrift")
        screenshot(second, "desktop-transfer-received")
        conversation = Conversation.objects.get(customer__display_name="Tom Transfer")
        assert conversation.owner_id == contact_center.second.pk
        assert ConversationNote.objects.filter(conversation=conversation).count() == 1
    finally:
        first_context.close()
        second_context.close()


def test_on_a_phone_every_action_works_without_horizontal_scroll(contact_center, live, browser):
    context, page = sign_in(browser, live, contact_center.first.user, viewport=PHONE)
    try:
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.select_option("#state-select", "available")
        expect(page.locator("#state-badge")).to_have_text("available")
        customer_writes(
            contact_center, live, sender="4915100000103", text="Vom Handy", name="Pia Phone"
        )
        page.locator(".offer button.accept").click(timeout=15000)
        # The conversation pane replaces the list; the bar moves between the panes.
        expect(page.locator("#transcript")).to_contain_text("Vom Handy")
        expect(page.locator("#sidebar")).to_be_hidden()
        page.fill("#composer textarea", "Gern, ich helfe Ihnen.")
        page.click("#composer button[type=submit]")
        expect(page.locator("#transcript")).to_contain_text("Gern, ich helfe Ihnen.")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert serious_violations(page) == []
        screenshot(page, "desktop-phone-conversation")

        page.click("[data-pane-target=details]")
        expect(page.locator("#details")).to_be_visible()
        expect(page.locator("#transcript")).to_be_hidden()
        page.select_option("#close-form select", label="Resolved")
        page.click("#close-form button")
        expect(page.locator("#sidebar")).to_be_visible()
        closed = Conversation.objects.get(customer__display_name="Pia Phone")
        assert closed.status == "closed"

        customer_writes(
            contact_center, live, sender="4915100000104", text="Noch eine Frage", name="Paul Phone"
        )
        page.locator(".offer button.accept").click(timeout=15000)
        expect(page.locator("#transcript")).to_contain_text("Noch eine Frage")
        agent_state_set(agent=contact_center.second, state="available")
        page.click(".transfer-toggle")
        agent_select = page.locator("#transfer-form select[name=to_agent_id]")
        expect(agent_select.locator("option", has_text=str(contact_center.second))).to_have_count(1)
        agent_select.select_option(label=str(contact_center.second))
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.click("#transfer-form button[type=submit]")
        expect(page.locator("#sidebar")).to_be_visible()
        moved = Conversation.objects.get(customer__display_name="Paul Phone")
        assert moved.owner_id is None
        assert moved.routing_tasks.filter(offers__agent=contact_center.second).exists()

        # The narrowest screen we support.
        page.set_viewport_size({"width": 360, "height": 740})
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
    finally:
        context.close()


def test_the_desktop_is_usable_by_keyboard(contact_center, live, browser):
    context, page = sign_in(browser, live, contact_center.first.user)
    try:
        page.select_option("#state-select", "available")
        customer_writes(
            contact_center, live, sender="4915100000105", text="Tastatur", name="Kai Keys"
        )
        accept = page.locator(".offer button.accept")
        expect(accept).to_be_visible(timeout=15000)
        accept.focus()
        page.keyboard.press("Enter")
        expect(page.locator("#transcript")).to_contain_text("Tastatur")
        item = page.locator("#conversations .conversation-item").first
        item.focus()
        outline = item.evaluate("el => getComputedStyle(el).outlineStyle")
        assert outline != "none"
        page.keyboard.press("Enter")
        page.locator("#composer textarea").focus()
        page.keyboard.type("Per Tastatur")
        page.keyboard.press("Enter")
        expect(page.locator("#transcript")).to_contain_text("Per Tastatur")
    finally:
        context.close()
