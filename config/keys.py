"""SECRET_KEY and the field encryption keys.

A deployment (PostgreSQL or Redis configured) must bring both from the environment: a key that
ships with the code is public, and a field key derived from SECRET_KEY would fall with it. The
embedded demo generates both once and keeps them in VAR_DIR.
"""

import base64
import binascii
import hashlib
import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config.env import env_list, env_str

SECRET_KEY_HOWTO = "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
FIELD_KEY_HOWTO = (
    "Generate one with: python -c "
    "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)

# Embedded demo databases written before the keys were generated hold secrets under a key derived
# from the old built-in SECRET_KEY. The embedded setup (never a deployment) still decrypts them;
# `manage.py reencrypt_secrets` moves them to the generated key.
LEGACY_EMBEDDED_FIELD_KEY = base64.urlsafe_b64encode(
    hashlib.sha256(b"dev-only-insecure-key-change-me-in-production-0123456789").digest()
).decode()


def _stored_key(path: Path, make) -> str:
    """Read a key kept in VAR_DIR, creating it (owner-only) the first time."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(make())
    return path.read_text().strip()


def secret_key_from_env(*, var_dir: Path, deployed: bool) -> str:
    key = env_str("SECRET_KEY").strip()
    if key:
        return key
    if deployed:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. A deployment (DATABASE_URL or REDIS_URL set) needs its own "
            f"secret key in the environment. {SECRET_KEY_HOWTO}"
        )
    return _stored_key(var_dir / "secret_key", lambda: secrets.token_urlsafe(50))


def _check_fernet_key(key: str, *, name: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(key.encode())
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise ImproperlyConfigured(
            f"{name} holds a key that is not a Fernet key (32 url-safe base64-encoded bytes). "
            f"{FIELD_KEY_HOWTO}"
        )
    return key


def field_encryption_keys_from_env(*, var_dir: Path, deployed: bool) -> list[str]:
    """FIELD_ENCRYPTION_KEYS (comma-separated, newest first) or a single FIELD_ENCRYPTION_KEY."""
    name = "FIELD_ENCRYPTION_KEYS"
    keys = env_list(name, [])
    if not keys and env_str("FIELD_ENCRYPTION_KEY").strip():
        name = "FIELD_ENCRYPTION_KEY"
        keys = [env_str("FIELD_ENCRYPTION_KEY").strip()]
    if keys:
        return [_check_fernet_key(key, name=name) for key in keys]
    if deployed:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS is not set. A deployment (DATABASE_URL or REDIS_URL set) needs "
            "its own key for the secrets stored in the database, independent of SECRET_KEY. "
            f"{FIELD_KEY_HOWTO}"
        )
    key = _stored_key(
        var_dir / "field_encryption_key",
        lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    )
    return [
        _check_fernet_key(key, name=str(var_dir / "field_encryption_key")),
        LEGACY_EMBEDDED_FIELD_KEY,
    ]
