"""The supervisors' care console in real headless Chromium against a real ASGI server."""

import io

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from care_console.models import SupervisorScope
from channels_app.sandbox.customer import customer_webhook
from tests.e2e.conftest import PASSWORD, post_webhook, screenshot

pytestmark = pytest.mark.e2e


@pytest.fixture
def supervisor_page(browser, live, contact_center, supervisor):
    scope = SupervisorScope.objects.create(tenant=contact_center.tenant, user=supervisor)
    scope.teams.set(contact_center.queue.teams.all())
    scope.queues.set([contact_center.queue])
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{live.url}/accounts/login/")
    page.fill("input[name=username]", supervisor.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}/care/")  # the home page sends supervisors here
    page.wait_for_selector("#connection.online")
    yield page
    context.close()


def test_live_follows_a_customer_and_an_agent_without_a_reload(
    contact_center, live, page_for, supervisor_page
):
    care = supervisor_page
    care.evaluate("window.notReloaded = true")
    queue_row = care.locator(f"#queues tr[data-queue-id='{contact_center.queue.pk}']")
    agent_row = care.locator(f"#agents tr[data-agent-id='{contact_center.first.pk}']")
    expect(queue_row.locator(".waiting")).to_have_text("0")
    expect(agent_row.locator(".state")).to_have_text("Signed out")

    desk = page_for(contact_center.first.user)
    desk.select_option("#state-select", "available")
    expect(agent_row.locator(".state")).to_have_text("Available", timeout=15000)

    response = post_webhook(
        customer_webhook(
            contact_center.asset,
            base_url=live.url,
            sender="4915112345678",
            text="Mein Paket ist nicht angekommen",
            name="Dana Kunde",
        )
    )
    assert response.status_code == 200
    expect(queue_row.locator(".waiting")).to_have_text("1", timeout=15000)
    expect(agent_row.locator(".load")).to_have_text("0/3 · 0/1 · 1/2")
    expect(agent_row.locator(".offers")).to_have_text("1")
    screenshot(care, "care-live")

    desk.locator(".offer button.accept").click()
    expect(queue_row.locator(".waiting")).to_have_text("0", timeout=15000)
    expect(agent_row.locator(".owned")).to_have_text("1")
    expect(agent_row.locator(".offers")).to_have_text("0")
    assert care.evaluate("window.notReloaded") is True


def test_full_text_search_finds_the_transcript_and_its_pdf_opens(
    contact_center, live, page_for, supervisor_page
):
    desk = page_for(contact_center.first.user)
    desk.select_option("#state-select", "available")
    post_webhook(
        customer_webhook(
            contact_center.asset,
            base_url=live.url,
            sender="4915187654321",
            text="Die Rechnung 98765 ist doppelt abgebucht",
            name="Erik Kunde",
        )
    )
    desk.locator(".offer button.accept").click(timeout=15000)
    expect(desk.locator("#transcript")).to_contain_text("Rechnung 98765")

    care = supervisor_page
    care.click("nav >> text=Transcripts")
    care.fill("input[name=text]", "doppelt")
    care.click("#search button[type=submit]")
    result = care.locator("#results a", has_text="Erik Kunde")
    expect(result).to_be_visible()
    result.click()
    expect(care.locator("#transcript")).to_contain_text("Die Rechnung 98765 ist doppelt abgebucht")
    timeline = care.locator("#timeline")
    expect(timeline).to_contain_text("Queued")
    expect(timeline).to_contain_text("Offered")
    expect(timeline).to_contain_text("Accepted")

    with care.expect_download() as download_info:
        care.click("#export-pdf")
    data = open(download_info.value.path(), "rb").read()
    assert data.startswith(b"%PDF")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    assert "Erik Kunde" in text and "doppelt abgebucht" in text


def test_the_console_fits_a_small_laptop_and_a_phone(live, supervisor_page):
    care = supervisor_page
    for width in (1024, 390):
        care.set_viewport_size({"width": width, "height": 800})
        for path in ("/care/", "/care/transcripts/", "/care/reports/"):
            care.goto(f"{live.url}{path}")
            expect(care.locator("nav")).to_contain_text("Reports")
            overflow = care.evaluate("document.documentElement.scrollWidth")
            assert overflow <= width, (width, path, overflow)
