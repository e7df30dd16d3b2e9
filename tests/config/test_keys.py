"""A deployment refuses to start on a public or missing key; the embedded demo makes its own."""

import base64
import hashlib
import stat

import pytest
from cryptography.fernet import Fernet

from tests.config.conftest import production_env


@pytest.mark.parametrize(
    "setup",
    [
        {"REDIS_URL": None},
        {"DATABASE_URL": None},
        {},
    ],
    ids=["postgres-only", "redis-only", "postgres-and-redis"],
)
def test_a_deployment_without_secret_key_refuses_to_start_and_says_how_to_make_one(
    run_django, setup
):
    result = run_django(env=production_env(SECRET_KEY=None, **setup))

    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert "secrets.token_urlsafe" in result.stderr


def test_a_deployment_without_field_encryption_keys_refuses_to_start(run_django):
    result = run_django(env=production_env(FIELD_ENCRYPTION_KEYS=None))

    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS is not set" in result.stderr
    assert "Fernet.generate_key()" in result.stderr


def test_a_field_encryption_key_that_is_not_a_fernet_key_is_refused(run_django):
    result = run_django(env=production_env(FIELD_ENCRYPTION_KEYS="my-password"))

    assert result.returncode != 0
    assert "is not a Fernet key" in result.stderr


def test_a_deployment_takes_a_list_of_field_keys_newest_first(run_django):
    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()

    result = run_django(
        env=production_env(FIELD_ENCRYPTION_KEYS=f"{new}, {old}"),
        code="from django.conf import settings; print(','.join(settings.FIELD_ENCRYPTION_KEYS))",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{new},{old}"


def test_the_single_field_encryption_key_variable_still_works(run_django):
    key = Fernet.generate_key().decode()

    result = run_django(
        env=production_env(FIELD_ENCRYPTION_KEYS=None, FIELD_ENCRYPTION_KEY=key),
        code="from django.conf import settings; print(settings.FIELD_ENCRYPTION_KEYS)",
    )

    assert result.returncode == 0, result.stderr
    assert key in result.stdout


def test_the_embedded_demo_generates_its_keys_once_and_keeps_them_private(run_django, tmp_path):
    show = (
        "from django.conf import settings\n"
        "print(settings.SECRET_KEY); print(settings.FIELD_ENCRYPTION_KEYS[0])"
    )
    var = tmp_path / "demo-var"

    first = run_django(env={"VAR_DIR": str(var)}, code=show)
    second = run_django(env={"VAR_DIR": str(var)}, code=show)

    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    secret_key, field_key = first.stdout.split()
    assert len(secret_key) >= 50 and "insecure" not in secret_key
    Fernet(field_key.encode())  # a valid key, not derived from the secret key
    for name in ("secret_key", "field_encryption_key"):
        assert stat.S_IMODE((var / name).stat().st_mode) == 0o600
    other = run_django(env={"VAR_DIR": str(tmp_path / "other-var")}, code=show)
    assert other.stdout != first.stdout


def test_the_embedded_demo_still_reads_secrets_its_older_versions_stored(run_django, tmp_path):
    legacy = base64.urlsafe_b64encode(
        hashlib.sha256(b"dev-only-insecure-key-change-me-in-production-0123456789").digest()
    )
    stored = Fernet(legacy).encrypt(b"old-demo-token").decode()

    result = run_django(
        env={"VAR_DIR": str(tmp_path / "demo-var")},
        code=(
            "from cryptography.fernet import Fernet, InvalidToken\n"
            "from channels_app.fields import _fernet\n"
            f"print(_fernet().decrypt({stored!r}.encode()).decode())\n"
            "try:\n"
            f"    Fernet({legacy!r}).decrypt(_fernet().encrypt(b'new')); print('legacy')\n"
            "except InvalidToken:\n"
            "    print('generated')\n"
        ),
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["old-demo-token", "generated"]


def test_a_deployment_never_accepts_the_legacy_embedded_key(run_django):
    result = run_django(
        env=production_env(),
        code="from django.conf import settings; print(len(settings.FIELD_ENCRYPTION_KEYS))",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"
