"""The admin's and the newcomer's first hour, in real headless Chromium: the README's admin signs
in at /admin/, invites an agent from the console, the invitee accepts in a second browser and,
as a working agent, receives an offer on the desktop."""

import re

import pytest
from django.core import mail
from django.core.management import call_command
from playwright.sync_api import expect

from channels_app.models import ChannelAsset
from channels_app.sandbox.customer import customer_webhook
from tenants.models import Agent
from tests.e2e.conftest import post_webhook, screenshot

pytestmark = pytest.mark.e2e

README_ADMIN = ("admin@demo.test", "demo-pass-2026")


@pytest.fixture
def demo(live, settings):
    settings.PUBLIC_BASE_URL = live.url
    settings.SANDBOX_PROVIDER = True
    call_command("demo_seed", verbosity=0)


def admin_page(browser, live, viewport=(1280, 800)):
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    page = context.new_page()
    page.goto(f"{live.url}/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login/"))
    page.fill("#id_username", README_ADMIN[0])
    page.fill("#id_password", README_ADMIN[1])
    page.click("input[type=submit]")
    expect(page).to_have_url(f"{live.url}/admin/")
    return context, page


def test_the_readme_admin_invites_an_agent_who_accepts_and_gets_an_offer(browser, live, demo):
    admin_context, admin = admin_page(browser, live)
    expect(admin.locator("body")).to_contain_text("Demo Co")

    admin.goto(f"{live.url}/admin/tenants/invitation/add/")
    admin.fill("#id_email", "newbie@demo.test")
    admin.select_option("#id_care_profile", "agent")
    admin.select_option("#id_team", label="Support")
    admin.click("input[name=_save]")
    expect(admin.locator(".messagelist")).to_contain_text("newbie@demo.test")
    screenshot(admin, "first-hour-invited")

    link = re.search(r"http://\S+/invitations/\S+/", mail.outbox[-1].body).group(0)
    assert link.startswith(live.url)
    newbie_context = browser.new_context(viewport={"width": 1280, "height": 800})
    newbie = newbie_context.new_page()
    newbie.goto(link)
    newbie.fill("input[name=full_name]", "Nico Newbie")
    newbie.fill("input[name=password]", "a long pass phrase")
    newbie.fill("input[name=password_again]", "a long pass phrase")
    newbie.click("button[type=submit]")
    expect(newbie).to_have_url(f"{live.url}/desktop/")
    assert Agent.objects.filter(user__email="newbie@demo.test").exists()
    newbie.wait_for_selector("#connection.online")
    newbie.select_option("#state-select", "available")
    expect(newbie.locator("#state-badge")).to_have_text("available")

    asset = ChannelAsset.objects.get(tenant__slug="demo", kind="whatsapp")
    response = post_webhook(
        customer_webhook(
            asset, base_url=live.url, sender="4915112345678", text="Hallo", name="Dana Kunde"
        )
    )
    assert response.status_code == 200

    offer = newbie.locator(".offer")
    expect(offer).to_be_visible(timeout=15000)
    expect(offer).to_contain_text("Dana Kunde")
    screenshot(newbie, "first-hour-offer")
    newbie_context.close()
    admin_context.close()


def test_at_phone_width_the_admin_copies_the_full_webhook_url(browser, live, demo):
    context, page = admin_page(browser, live, viewport=(390, 844))
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    asset = ChannelAsset.objects.get(tenant__slug="demo", kind="whatsapp")

    page.goto(f"{live.url}/admin/channels_app/channelasset/{asset.pk}/change/")
    url = f"{live.url}/webhooks/whatsapp/{asset.uuid}/"
    field = page.locator(".field-webhook_url .copyable")
    expect(field).to_contain_text(url)
    box = field.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    field.locator("button.copy-button").click()
    expect(field.locator("button.copy-button")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == url
    expect(page.locator(".field-webhook_verify_token .copyable")).to_contain_text(
        "demo-verify-token"
    )
    screenshot(page, "first-hour-asset-phone")
    context.close()
