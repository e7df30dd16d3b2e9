"""What the pipeline benches add to the environment of the processes they start.

A database URL makes the settings a deployment's: they then want their own keys, a mail backend
that delivers and HTTPS. A bench on loopback needs none of them, so throwaway keys are made per
run (unless the caller gives its own), mail goes to an SMTP backend that is never called, and the
servers speak plain HTTP.
"""

import base64
import os
import secrets


def bench_env() -> dict[str, str]:
    env = {
        "EMAIL_BACKEND": os.environ.get(
            "EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend"
        ),
        "HTTPS": os.environ.get("HTTPS", "false"),
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
    }
    if not (os.environ.get("FIELD_ENCRYPTION_KEYS") or os.environ.get("FIELD_ENCRYPTION_KEY")):
        env["FIELD_ENCRYPTION_KEYS"] = base64.urlsafe_b64encode(os.urandom(32)).decode()
    return env
