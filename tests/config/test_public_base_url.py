"""One setting, PUBLIC_BASE_URL (defaulting from HOST and PORT), drives every absolute URL."""

import io
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from channels_app.models import ChannelAsset, Message
from tests.factories import ChannelAssetFactory


def settings_in_a_fresh_process(**env: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("PUBLIC_BASE_URL", "HOST", "PORT")}
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.PUBLIC_BASE_URL); print(','.join(s.CSRF_TRUSTED_ORIGINS))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    return {"PUBLIC_BASE_URL": out[0], "CSRF_TRUSTED_ORIGINS": out[1]}


def test_the_public_base_url_follows_port_and_host():
    assert settings_in_a_fresh_process(PORT="8123") == {
        "PUBLIC_BASE_URL": "http://127.0.0.1:8123",
        "CSRF_TRUSTED_ORIGINS": "http://127.0.0.1:8123,http://localhost:8123",
    }
    assert settings_in_a_fresh_process(HOST="0.0.0.0", PORT="9001")["PUBLIC_BASE_URL"] == (
        "http://127.0.0.1:9001"
    )
    assert settings_in_a_fresh_process()["PUBLIC_BASE_URL"] == "http://127.0.0.1:8000"


def test_an_explicit_public_base_url_wins_over_port():
    found = settings_in_a_fresh_process(PORT="8123", PUBLIC_BASE_URL="https://cc.example.com/")
    assert found["PUBLIC_BASE_URL"] == "https://cc.example.com"


def test_the_demo_prints_and_wires_everything_to_the_public_base_url(db, settings):
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8123"
    out = io.StringIO()

    call_command("demo_seed", stdout=out)

    printed = out.getvalue()
    assert "http://127.0.0.1:8123/admin/" in printed
    assert "http://127.0.0.1:8123/desktop/" in printed
    assert ":8000" not in printed
    assert {a.api_base_url for a in ChannelAsset.objects.exclude(kind="chat")} == {
        f"http://127.0.0.1:8123/sandbox/provider/{kind}"
        for kind in ("whatsapp", "messenger", "sms", "email", "apple")
    }


@pytest.mark.django_db(transaction=True)
def test_sandbox_customer_posts_to_the_public_base_url_by_default(live_server, tenant, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    asset = ChannelAssetFactory(
        tenant=tenant,
        kind="whatsapp",
        wa_phone_number_id="106540352242922",
    )

    out = io.StringIO()
    call_command("sandbox_customer", "whatsapp", "Hallo", "--asset", str(asset.uuid), stdout=out)

    assert out.getvalue().startswith(f"POST {live_server.url}/webhooks/whatsapp/")
    assert Message.objects.get().text == "Hallo"


@pytest.mark.django_db(transaction=True)
def test_sandbox_customer_posts_to_the_server_whose_sandbox_the_demo_asset_calls(
    live_server, tenant, settings
):
    # The shell running the command has no PORT: its own default would be another port.
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:9"
    asset = ChannelAssetFactory(
        tenant=tenant,
        kind="whatsapp",
        wa_phone_number_id="106540352242922",
        api_base_url=f"{live_server.url}/sandbox/provider/whatsapp",
    )

    out = io.StringIO()
    call_command("sandbox_customer", "whatsapp", "Hallo", "--asset", str(asset.uuid), stdout=out)

    assert out.getvalue().startswith(f"POST {live_server.url}/webhooks/whatsapp/")
    assert Message.objects.get().text == "Hallo"
