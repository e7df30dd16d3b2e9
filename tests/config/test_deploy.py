"""A deployment's settings: `check --deploy` is clean, mail must really be sent, HTTPS is
enforced (Secure cookies, HSTS, redirect) and the proxy's HTTPS header is trusted only when set."""

import json
import re

from tests.config.conftest import production_env

# Requests through Django's test client in a process with the deployment's settings; no
# database is touched by the sign-in page.
PROBE = """
import json
from django.test import Client
client = Client(HTTP_HOST="cc.example.com")
out = {}
plain = client.get("/accounts/login/")
out["plain"] = [plain.status_code, plain.headers.get("Location", "")]
proxied = client.get("/accounts/login/", headers={"X-Forwarded-Proto": "https"})
out["proxied"] = proxied.status_code
out["hsts"] = proxied.headers.get("Strict-Transport-Security", "")
out["csp"] = proxied.headers.get("Content-Security-Policy", "")
cookie = proxied.cookies.get("csrftoken")
if cookie is not None:
    out["csrf_cookie"] = {"secure": bool(cookie["secure"]), "samesite": cookie["samesite"]}
health = client.get("/healthz")
out["healthz_redirected"] = health.status_code in (301, 302)
from django.conf import settings
out["session"] = [settings.SESSION_COOKIE_SECURE, settings.SESSION_COOKIE_HTTPONLY,
                  settings.SESSION_COOKIE_SAMESITE]
print(json.dumps(out))
"""


def deployment_issues(output: str) -> list[str]:
    """The ids of the check messages about the deployment (not the API schema's own warnings)."""
    ids = re.findall(r"^\?: \(([\w.]+)\)", output, flags=re.MULTILINE)
    return [i for i in ids if i.split(".")[0] in {"security", "axes", "csp", "tenants", "auth"}]


def test_check_deploy_passes_with_the_production_settings(run_django):
    result = run_django(
        env=production_env(SECURE_HSTS_PRELOAD="true"), command=["check", "--deploy"]
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert deployment_issues(result.stdout + result.stderr) == []


def test_check_deploy_only_mentions_hsts_preload_which_is_the_operators_choice(run_django):
    result = run_django(env=production_env(), command=["check", "--deploy"])

    assert result.returncode == 0, result.stderr
    assert deployment_issues(result.stdout + result.stderr) == ["security.W021"]


def test_a_deployment_with_the_console_email_backend_fails_the_system_check(run_django):
    result = run_django(env=production_env(EMAIL_BACKEND=None), command=["check"])

    assert result.returncode != 0
    assert "tenants.E001" in result.stderr
    assert "EMAIL_BACKEND" in result.stderr


def test_the_embedded_demo_may_print_mail_to_the_console(run_django):
    result = run_django(env={}, command=["check"])

    assert result.returncode == 0, result.stderr


def test_a_deployment_enforces_https_and_trusts_the_proxy_header_only_when_configured(run_django):
    trusted = run_django(
        env=production_env(SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto"), code=PROBE
    )
    assert trusted.returncode == 0, trusted.stderr
    out = json.loads(trusted.stdout)
    assert out["plain"] == [301, "https://cc.example.com/accounts/login/"]
    assert out["proxied"] == 200
    assert out["hsts"] == "max-age=31536000; includeSubDomains"
    assert "script-src 'self' 'nonce-" in out["csp"]
    assert "frame-ancestors 'none'" in out["csp"]
    assert out["csrf_cookie"] == {"secure": True, "samesite": "Lax"}
    assert out["healthz_redirected"] is False
    assert out["session"] == [True, True, "Lax"]

    untrusted = run_django(env=production_env(), code=PROBE)
    # Without the setting, a client's own X-Forwarded-Proto changes nothing: still redirected.
    assert json.loads(untrusted.stdout)["proxied"] == 301
