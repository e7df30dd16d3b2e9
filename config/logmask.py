"""Keeps credentials that travel in URLs out of the logs.

An invitation link (/invitations/<token>/) signs its holder up to a tenant, so the path must not
reach an access log, an error log or a log shipper. The filter rewrites the message and its
arguments in place; it sits on our console handler and, for loggers with handlers of their own
(uvicorn's access log, Django's request loggers), on the loggers themselves.
"""

import logging
import re

MASK = "[masked]"
_PATTERNS = [
    (re.compile(r"(/invitations/)[^/\s?#\"']+"), rf"\g<1>{MASK}"),
    (re.compile(r"([?&](?:token|invitation|key)=)[^&\s#\"']+"), rf"\g<1>{MASK}"),
]
# Loggers that print request paths through handlers other than ours.
LOGGERS = ("uvicorn.access", "uvicorn.error", "django.request", "django.server", "django.security")


def mask(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _mask_value(value):
    return mask(value) if isinstance(value, str) else value


class MaskSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = mask(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_mask_value(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _mask_value(value) for key, value in record.args.items()}
        return True


def install() -> None:
    """Adds the filter to the loggers that bring their own handlers (once per logger)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, MaskSecretsFilter) for f in logger.filters):
            logger.addFilter(MaskSecretsFilter())
