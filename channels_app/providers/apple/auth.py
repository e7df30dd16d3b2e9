"""The HS256 JWTs Apple's Messages for Business uses both ways: signed with the MSP's API secret
(base64-decoded), audience the MSP id."""

import base64
import binascii
import hashlib
import hmac
import json
import time


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def secret_bytes(secret: str) -> bytes:
    """Apple issues the MSP secret base64-encoded; a secret that is not base64 is used as is."""
    try:
        return base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError):
        return secret.encode()


def token(
    *, secret: str, audience: str, now: float | None = None, lifetime: int | None = None
) -> str:
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    issued = int(now if now is not None else time.time())
    claims: dict = {"aud": audience, "iat": issued}
    if lifetime is not None:
        claims["exp"] = issued + lifetime
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode()
    signature = hmac.new(secret_bytes(secret), signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(signature)}"


# Clock difference allowed between Apple and us when a token says when it expires.
LEEWAY_SECONDS = 60


def token_valid(value: str, *, secret: str, audience: str, now: float | None = None) -> bool:
    """An HS256 token signed with the secret (constant-time compare) whose audience is the MSP,
    and not expired if it says when it expires."""
    if not value or not secret or not audience:
        return False
    parts = value.split(".")
    if len(parts) != 3:
        return False
    try:
        header = json.loads(_unb64url(parts[0]))
        claims = json.loads(_unb64url(parts[1]))
        signature = _unb64url(parts[2])
    except (ValueError, binascii.Error):
        return False
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        return False
    expected = hmac.new(
        secret_bytes(secret), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256
    ).digest()
    if not hmac.compare_digest(signature, expected):
        return False
    if not isinstance(claims, dict):
        return False
    exp = claims.get("exp")
    if exp is not None:
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            return False
        if exp < (now if now is not None else time.time()) - LEEWAY_SECONDS:
            return False
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    return audience in audiences


def bearer(request_headers) -> str:
    value = request_headers.get("Authorization", "")
    return value[7:].strip() if value[:7].lower() == "bearer " else ""
