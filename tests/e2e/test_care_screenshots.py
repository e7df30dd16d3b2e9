"""Takes the README's care console screenshots from the seeded demo (docs/screenshots/)."""

from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e

DOCS = Path(settings.BASE_DIR) / "docs" / "screenshots"


def test_the_demo_care_console_renders_live_and_reports(browser, live):
    from tenants.demo import DEMO_PASSWORD

    call_command("demo_seed", stdout=open("/dev/null", "w"))
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{live.url}/accounts/login/")
    page.fill("input[name=username]", "supervisor@demo.test")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}/care/")
    page.wait_for_selector("#connection.online")
    page.wait_for_selector("#agents tbody tr")
    DOCS.mkdir(parents=True, exist_ok=True)
    shot = screenshot(page, "care-live")
    (DOCS / "care-live.png").write_bytes(shot.read_bytes())

    page.goto(f"{live.url}/care/reports/")
    for name in ("contacts_per_channel", "wait_time", "wrap_up_codes", "service_level"):
        page.wait_for_selector(f"figure[data-report={name}][data-loaded='1']")
    shot = screenshot(page, "care-reports")
    (DOCS / "care-reports.png").write_bytes(shot.read_bytes())
    context.close()
