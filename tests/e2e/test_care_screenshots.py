"""Takes the care console's screenshots from the seeded demo (var/screenshots/); with
UPDATE_DOCS_SCREENSHOTS=1 it also refreshes the README's copies in docs/screenshots/."""

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e

DOCS = Path(settings.BASE_DIR) / "docs" / "screenshots"
# A test run leaves the tracked files alone unless asked.
UPDATE_DOCS = os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1"


def keep(shot: Path, name: str) -> None:
    if UPDATE_DOCS:
        DOCS.mkdir(parents=True, exist_ok=True)
        (DOCS / name).write_bytes(shot.read_bytes())


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
    keep(screenshot(page, "care-live"), "care-live.png")

    page.goto(f"{live.url}/care/reports/")
    for name in ("contacts_per_channel", "wait_time", "wrap_up_codes", "service_level"):
        page.wait_for_selector(f"figure[data-report={name}][data-loaded='1']")
    keep(screenshot(page, "care-reports"), "care-reports.png")
    context.close()
