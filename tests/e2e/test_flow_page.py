"""The admin console's flow page in real Chromium, on a laptop (1024 px) and a phone (390 px): the
whole JSON and the whole diagram are on screen without the page scrolling sideways, and a draft's
JSON is edited with each problem shown at its path."""

import json

import pytest
from playwright.sync_api import expect

from routing.flows import services
from routing.flows.models import AuthorizableNode
from tests.e2e.conftest import PASSWORD, screenshot

pytestmark = pytest.mark.e2e

# Where an admin signs in. The console's own /admin/login/ works the same once it accepts tenant
# admins; switch here to drive that form instead.
LOGIN_PATH = "/accounts/login/"

WIDTHS = [1024, 390]

NO_SIDEWAYS_SCROLL = """() => {
  const doc = document.documentElement;
  return {page: doc.scrollWidth, viewport: window.innerWidth};
}"""

FITS = """(selector) => {
  const el = document.querySelector(selector);
  const box = el.getBoundingClientRect();
  return {
    right: box.right, left: box.left, viewport: window.innerWidth,
    scrollWidth: el.scrollWidth, clientWidth: el.clientWidth,
    scrollHeight: el.scrollHeight, clientHeight: el.clientHeight,
  };
}"""


@pytest.fixture
def flow(tenant, owner):
    for node in (AuthorizableNode.TASK, AuthorizableNode.ENGAGE):
        services.node_authorization_authorize(tenant=tenant, node=node, user=None)
    flow = services.flow_import_template(tenant=tenant, template_name="chat_inbound")
    published = flow.versions.get()
    services.flow_version_create(flow=flow, definition=published.definition, user=owner)
    return flow


def sign_in(browser, live, user, width: int, next_path: str):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(f"{live.url}{LOGIN_PATH}?next={next_path}")
    page.fill("input[name=username]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("[type=submit]")
    page.wait_for_url(f"{live.url}{next_path}")
    return context, page


def assert_no_sideways_scroll(page):
    sizes = page.evaluate(NO_SIDEWAYS_SCROLL)
    assert sizes["page"] <= sizes["viewport"], sizes


def assert_fits(page, selector: str, *, whole_height: bool = False):
    box = page.evaluate(FITS, selector)
    assert box["left"] >= 0 and box["right"] <= box["viewport"], (selector, box)
    assert box["scrollWidth"] <= box["clientWidth"], (selector, box)
    if whole_height:
        assert box["scrollHeight"] <= box["clientHeight"], (selector, box)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_flow_page_shows_the_whole_json_and_diagram_without_sideways_scrolling(
    browser, live, owner, flow, width
):
    context, page = sign_in(browser, live, owner, width, f"/admin/flows/flow/{flow.pk}/change/")
    try:
        expect(page.locator(".flow-diagram")).to_be_visible()
        assert_no_sideways_scroll(page)
        assert_fits(page, ".flow-svg")
        assert_fits(page, ".flow-diagram")
        assert_fits(page, ".flow-json", whole_height=True)
        # Every node of the newest version is drawn, and its JSON is there to its last line.
        definition = flow.versions.order_by("-number").first().definition
        assert page.locator(".flow-diagram g.node").count() == len(definition["nodes"])
        shown = json.loads(page.locator(".flow-json").inner_text())
        assert shown == definition
        page.locator(".flow-json").scroll_into_view_if_needed()
        screenshot(page, f"flow-page-{width}")
    finally:
        context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_draft_is_edited_in_the_browser_with_problems_shown_at_their_paths(
    browser, live, owner, flow, width
):
    draft = flow.versions.order_by("-number").first()
    path = f"/admin/flows/flow/{flow.pk}/versions/{draft.number}/"
    context, page = sign_in(browser, live, owner, width, path)
    try:
        editor = page.locator("textarea[name=definition]")
        expect(editor).to_be_visible()
        assert_no_sideways_scroll(page)
        assert_fits(page, ".flow-diagram")

        broken = json.loads(editor.input_value())
        broken["nodes"]["greet"]["next"] = "x"
        editor.fill(json.dumps(broken, indent=2))
        page.click("input[name=_save]")
        problems = page.locator(".flow-problems")
        expect(problems).to_contain_text("$.nodes.greet.next")
        expect(problems).to_contain_text("names node 'x', which does not exist")
        assert_no_sideways_scroll(page)
        screenshot(page, f"flow-draft-problems-{width}")
        draft.refresh_from_db()
        assert draft.definition["nodes"]["greet"]["next"] == "queue"

        fixed = json.loads(page.locator("textarea[name=definition]").input_value())
        fixed["nodes"]["greet"]["next"] = "queue"
        fixed["nodes"]["greet"]["label"] = f"Greet at {width}px"
        page.locator("textarea[name=definition]").fill(json.dumps(fixed, indent=2))
        page.click("input[name=_save]")
        expect(page.locator(".messagelist")).to_contain_text("Saved the draft")
        draft.refresh_from_db()
        assert draft.definition["nodes"]["greet"]["label"] == f"Greet at {width}px"
    finally:
        context.close()
