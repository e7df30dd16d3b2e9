"""An email in the agent desktop, in real headless Chromium against a real ASGI server: an HTML
mail with a table and a script arrives through the shipped email flow into an email queue, shows
its table, runs no script, shows its remote image only when asked (through our own origin), and
the agent's formatted reply with a subject, a Cc and a file reaches the SMTP server threaded, in
two parts, with the file as a MIME part once scanned."""

import re
import time

import httpx
import pytest
from playwright.sync_api import expect

from routing.flows.models import AuthorizableNode
from routing.flows.services import flow_import_template, node_authorization_authorize
from routing.models import EntryPoint, Offer
from tenants.models import TenantPolicy
from tests.channels_app.conftest import webhook_url
from tests.channels_app.email_support import PNG, mail
from tests.e2e.conftest import (  # noqa: F401 - the browser tests' fixtures
    _orm_beside_playwright,
    browser,
    live,
    page_for,
    screenshot,
)
from tests.loopback import LoopbackServer
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


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def image_server(smtp_server):
    # smtp_server lets 127.0.0.1 through the outbound guard (OUTBOUND_ALLOWED_HOSTS).
    with LoopbackServer() as server:
        server.routes["/parcel.png"] = lambda h: h.reply(200, PNG, {"Content-Type": "image/png"})
        yield server


@pytest.mark.parametrize("width", [1280, 390])
def test_an_html_mail_shows_its_table_runs_no_script_and_the_formatted_reply_is_threaded(
    tenant,
    webhook_asset,
    smtp_server,
    image_server,
    live,  # noqa: F811
    page_for,  # noqa: F811
    width,
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
    page.set_viewport_size({"width": width, "height": 800})
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.select_option("#state-select", "available")
    expect(page.locator("#state-badge")).to_have_text("available")

    response = post_signed(
        live.url,
        webhook_asset,
        mail(
            text="Hello, my order is incomplete.",
            html=HTML + f'<p><img src="{image_server.url}/parcel.png" alt="parcel"></p>',
            message_id="order@example.org",
        ),
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

    # The remote image waits until the agent asks, then comes from our own origin.
    assert image_server.requests == []
    expect(transcript.locator(".email-image-held", has_text="[parcel]")).to_be_visible()
    transcript.locator("button.show-images").click()
    image = transcript.locator("img.email-remote-image")
    expect(image).to_have_attribute("src", re.compile(r"^/desktop/messages/\d+/image/\?src="))
    # Loaded (the CSP's img-src 'self' let it in) and decoded as the 1x1 PNG.
    wait_until(
        lambda: page.evaluate("document.querySelector('img.email-remote-image').naturalWidth")
    )
    assert [r["path"] for r in image_server.requests] == ["/parcel.png"]

    composer = page.locator("#composer")
    expect(composer.locator(".email-subject-input")).to_have_value("Re: Parcel 4711")
    composer.locator(".email-editor").click()
    page.keyboard.type("The second shoe is on its way. ")
    composer.locator("[data-format=bold]").click()
    page.keyboard.type("Tracking 4711")
    composer.locator("[data-format=bold]").click()
    page.keyboard.press("Enter")
    composer.locator("[data-format=insertUnorderedList]").click()
    page.keyboard.type("Left shoe")
    page.keyboard.press("Enter")
    page.keyboard.type("Right shoe")
    composer.locator(".email-subject-input").fill("Re: Parcel 4711 (shipped)")
    cc = composer.locator(".email-cc-input")
    cc.fill("boss@")
    composer.locator("button[type=submit]").click()
    expect(page.locator("#toast")).to_contain_text("'boss@' is not an email address")
    expect(cc).to_have_class(re.compile(r"\binvalid\b"))

    cc.fill("boss@example.org")
    screenshot(page, f"desktop-email-composer-{width}")
    composer.locator("button[type=submit]").click()
    expect(transcript).to_contain_text("Tracking 4711")
    expect(composer.locator(".email-editor")).to_have_text("")

    sent = wait_until(
        lambda: [
            m
            for _, m in smtp_server.messages
            if "Tracking 4711" in m.get_body(("plain",)).get_content()
        ]
    )[0]
    assert sent["To"] == "erika@example.org"
    assert sent["Cc"] == "boss@example.org"
    assert sent["Subject"] == "Re: Parcel 4711 (shipped)"
    assert sent["In-Reply-To"] == "<order@example.org>"
    assert "<order@example.org>" in sent["References"]
    html = sent.get_body(("html",)).get_content()
    assert "<b>Tracking 4711</b>" in html
    assert "<ul><li>Left shoe</li><li>Right shoe</li></ul>" in html
    plain = sent.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "The second shoe is on its way. Tracking 4711\n- Left shoe" in plain
    assert "- Left shoe\n- Right shoe" in plain

    # A file goes through the composer's file flow, is scanned, and leaves as a MIME part.
    page.set_input_files(
        "#composer input[type=file]",
        files=[{"name": "receipt.pdf", "mimeType": "application/pdf", "buffer": PDF}],
    )
    with_file = wait_until(
        lambda: [m for _, m in smtp_server.messages if any(True for _ in m.iter_attachments())]
    )[0]
    [part] = list(with_file.iter_attachments())
    assert part.get_filename() == "receipt.pdf" and part.get_content() == PDF
    assert with_file["In-Reply-To"] == "<order@example.org>"
