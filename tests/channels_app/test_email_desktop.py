"""An email in the agent desktop, in real headless Chromium against a real ASGI server: an HTML
mail with a table and a script arrives through the shipped email flow into an email queue, shows
its table, runs no script, and the agent's reply reaches the SMTP server threaded, in two parts."""

import time

import httpx
import pytest
from playwright.sync_api import expect

from routing.flows.models import AuthorizableNode
from routing.flows.services import flow_import_template, node_authorization_authorize
from routing.models import EntryPoint, Offer
from tenants.models import TenantPolicy
from tests.channels_app.conftest import webhook_url
from tests.channels_app.email_support import mail
from tests.e2e.conftest import (  # noqa: F401 - the browser tests' fixtures
    _orm_beside_playwright,
    browser,
    live,
    page_for,
)
from tests.routing.factories import make_agent, make_queue, make_team

pytestmark = pytest.mark.e2e

HTML = (
    "<p>Hello, my order is incomplete:</p>"
    "<table id='order'><tr><th>Item</th><th>Received</th></tr>"
    "<tr><td>Shoes</td><td>1 of 2</td></tr></table>"
    "<script>window.pwned = 'script'</script>"
    "<img src='x' onerror=\"window.pwned = 'onerror'\">"
    "<a href=\"javascript:window.pwned='link'\">click</a>"
)


def wait_until(predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def post_signed(live_url: str, asset, raw: bytes) -> httpx.Response:
    from channels_app.sandbox.mail import mail_webhook_form

    body, content_type = mail_webhook_form(
        raw, key=asset.email_signing_key, recipient=asset.email_address
    )
    return httpx.post(
        live_url + webhook_url(asset), content=body, headers={"Content-Type": content_type}
    )


def test_an_html_mail_shows_its_table_runs_no_script_and_the_reply_is_threaded(
    tenant,
    webhook_asset,
    smtp_server,
    live,  # noqa: F811
    page_for,  # noqa: F811
):
    for node in (AuthorizableNode.TASK, AuthorizableNode.ENGAGE):
        node_authorization_authorize(tenant=tenant, node=node, user=None)
    EntryPoint.objects.create(
        tenant=tenant,
        name="Email entry",
        channel_type="email",
        asset=webhook_asset,
        flow=flow_import_template(tenant=tenant, template_name="email_inbound"),
    )
    TenantPolicy.objects.update_or_create(tenant=tenant, defaults={"rona_email_seconds": 300})
    team = make_team(tenant=tenant, name="Mail team", max_email=2)
    make_queue(tenant=tenant, teams=[team], name="Email", channel_type="email")
    agent = make_agent(tenant=tenant, team=team, name="Alex")
    page = page_for(agent.user)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.select_option("#state-select", "available")
    expect(page.locator("#state-badge")).to_have_text("available")

    response = post_signed(
        live.url,
        webhook_asset,
        mail(text="Hello, my order is incomplete.", html=HTML, message_id="order@example.org"),
    )
    assert response.status_code == 200

    offer = page.locator(".offer")
    expect(offer).to_be_visible(timeout=15000)
    routed = Offer.objects.get()
    assert routed.channel_type == "email"
    assert (routed.expires_at - routed.created_at).total_seconds() == 300  # the email RONA
    offer.locator("button.accept").click()
    transcript = page.locator("#transcript")
    expect(transcript.locator("table td", has_text="Shoes")).to_be_visible()
    expect(transcript.locator(".email-subject")).to_contain_text("Parcel 4711")
    assert transcript.locator("script").count() == 0
    assert page.evaluate("window.pwned") is None
    assert dialogs == []

    page.fill("#composer textarea", "The second shoe is on its way.")
    page.keyboard.press("Enter")
    expect(transcript).to_contain_text("The second shoe is on its way.")

    sent = wait_until(
        lambda: [
            m
            for _, m in smtp_server.messages
            if "The second shoe is on its way." in m.get_body(("plain",)).get_content()
        ]
    )[0]
    assert sent["To"] == "erika@example.org"
    assert sent["Subject"] == "Re: Parcel 4711"
    assert sent["In-Reply-To"] == "<order@example.org>"
    assert "<p>The second shoe is on its way.</p>" in sent.get_body(("html",)).get_content()
