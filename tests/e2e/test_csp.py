"""The Content Security Policy holds on every page people use: Chromium reports no violation on
the sign-in page, the agent desktop, the admin console and the API docs."""

import pytest

from tests.e2e.conftest import PASSWORD

pytestmark = pytest.mark.e2e

REPORT_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


def violations(page) -> list[str]:
    page.wait_for_load_state("networkidle")
    return page.evaluate("window.__csp")


@pytest.fixture
def watched(browser, live):
    contexts = []

    def open_context():
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.add_init_script(REPORT_VIOLATIONS)
        contexts.append(context)
        page = context.new_page()
        page.console_messages = []
        page.on(
            "console",
            lambda message: (
                page.console_messages.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )
        return page

    yield open_context
    for context in contexts:
        context.close()


def sign_in(page, live, user, next_url: str) -> None:
    response = page.goto(f"{live.url}/accounts/login/?next={next_url}")
    assert "script-src 'self' 'nonce-" in response.headers["content-security-policy"]
    assert violations(page) == []
    page.fill("input[name=username]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}{next_url}")


def test_the_desktop_runs_under_the_csp_without_violations(contact_center, live, watched):
    page = watched()
    sign_in(page, live, contact_center.first.user, "/desktop/")
    page.wait_for_selector("#connection.online")  # scripts ran and the websocket connected

    assert violations(page) == []
    assert page.console_messages == []


def test_the_admin_console_runs_under_the_csp_without_violations(live, owner, watched):
    page = watched()
    sign_in(page, live, owner, "/admin/")
    found = []
    for path in ("/admin/", "/admin/tenants/team/", "/admin/tenants/team/add/"):
        response = page.goto(f"{live.url}{path}")
        assert response.status == 200, path
        found += [f"{path}: {v}" for v in violations(page)]

    assert found == []
    assert page.console_messages == []


def test_the_api_docs_run_under_the_csp_without_violations(live, owner, watched):
    page = watched()
    sign_in(page, live, owner, "/admin/")
    response = page.goto(f"{live.url}/api/docs/")
    assert "script-src 'self' 'nonce-" in response.headers["content-security-policy"]
    page.wait_for_selector(".swagger-ui .info", timeout=60_000)  # the UI rendered the schema

    assert violations(page) == []
    assert page.console_messages == []
