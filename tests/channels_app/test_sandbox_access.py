"""The provider sandbox is off unless asked for, and only staff see what it was sent (every
tenant's outbound messages); the provider API paths the server calls keep answering."""

import os
import subprocess
import sys

from channels_app.sandbox.fake_provider import SHARED
from tests.factories import UserFactory

SENT = "/sandbox/provider/sent"


def _send(client, text: str):
    return client.post(
        "/sandbox/provider/whatsapp/123/messages",
        {"messaging_product": "whatsapp", "to": "49151", "type": "text", "text": {"body": text}},
        content_type="application/json",
        headers={"Authorization": "Bearer token"},
    )


def test_the_sandbox_is_off_by_default_even_in_the_embedded_setup():
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SANDBOX_PROVIDER", "REDIS_URL", "DATABASE_URL")
    }
    code = "import django; django.setup(); from django.conf import settings; print(settings.SANDBOX_PROVIDER)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        check=True,
    )

    assert out.stdout.strip() == "False"


def test_the_embedded_demo_turns_the_sandbox_on():
    script = open("scripts/run.sh").read()

    assert 'export SANDBOX_PROVIDER="${SANDBOX_PROVIDER:-true}"' in script


def test_only_staff_see_what_the_sandbox_was_sent(client, settings, owner, outsider):
    settings.SANDBOX_PROVIDER = True
    SHARED.reset()
    assert _send(client, "Ihre Bestellung 4711").status_code == 200

    anonymous = client.get(SENT)
    client.force_login(owner)  # a tenant's full admin is not platform staff
    tenant_admin = client.get(SENT)
    page = client.get("/sandbox/provider/")
    reset = client.post("/sandbox/provider/_reset")
    client.force_login(outsider)
    other = client.get(SENT)
    client.force_login(UserFactory(is_staff=True))
    staff = client.get(SENT)

    for response in (anonymous, tenant_admin, page, reset, other):
        assert response.status_code == 403
        assert b"4711" not in response.content
        assert b"for staff" in response.content
    assert staff.status_code == 200
    assert staff.json()["sent"][0]["payload"]["text"] == {"body": "Ihre Bestellung 4711"}


def test_the_demo_admin_is_staff_when_the_sandbox_is_on(settings, db):
    from django.core.management import call_command

    from tenants.models import User

    settings.SANDBOX_PROVIDER = True
    call_command("demo_seed", stdout=open(os.devnull, "w"))

    assert User.objects.get(email="admin@demo.test").is_staff
    assert not User.objects.get(email="supervisor@demo.test").is_staff
