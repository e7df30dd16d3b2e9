"""Settings are read once per process: these tests start a fresh Python with the environment of
the setup under test (a deployment, or the embedded demo)."""

import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.conf import settings

# Everything that selects a setup or carries a key; each test says which of these it sets.
SETUP_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "FIELD_ENCRYPTION_KEY",
    "FIELD_ENCRYPTION_KEYS",
    "TEST_DATABASE_NAME",
    "EMAIL_BACKEND",
    "EMAIL_HOST",
    "DEBUG",
    "ALLOWED_HOSTS",
    "VAR_DIR",
    "HTTPS",
    "CSRF_TRUSTED_ORIGINS",
)


def production_env(**overrides: str) -> dict[str, str]:
    """What an operator sets for a deployment behind a TLS-terminating proxy."""
    env = {
        "DATABASE_URL": "postgres://contact:center@db.internal:5432/contact",
        "REDIS_URL": "redis://redis.internal:6379/0",
        "SECRET_KEY": "k7" + "Qz-9pL_vT3wX8yB2nM5cR1hJ6fD4gS0aE" * 2,
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "cc.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://cc.example.com",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "smtp.example.com",
    }
    env.update(overrides)
    return {key: value for key, value in env.items() if value is not None}


@pytest.fixture
def run_django(tmp_path):
    """Runs code after django.setup(), or a manage.py command, in a fresh process."""

    def run(*, env: dict[str, str], code: str = "", command: list[str] | None = None):
        base = {
            k: v
            for k, v in os.environ.items()
            if k not in SETUP_VARIABLES and not k.startswith("SECURE_")
        }
        base.setdefault("VAR_DIR", str(tmp_path / "var"))
        base.update(env)
        if command is not None:
            argv = [sys.executable, str(settings.BASE_DIR / "manage.py"), *command]
        else:
            argv = [sys.executable, "-c", f"import django; django.setup()\n{code}"]
        return subprocess.run(
            argv,
            cwd=settings.BASE_DIR,
            env={**base, "DJANGO_SETTINGS_MODULE": "config.settings"},
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run
