"""Attachment bytes: what they really are (magic bytes, not the provider's word) and where they go."""

import uuid

import filetype
from django.conf import settings
from django.core.files.base import ContentFile

from channels_app.models import Attachment


def media_max_bytes(kind: str) -> int:
    """The largest attachment downloaded for a channel."""
    return settings.MEDIA_MAX_BYTES.get(kind, settings.OUTBOUND_MAX_BYTES)


def detect_content_type(data: bytes) -> str:
    guess = filetype.guess(data[:8192])
    if guess is not None:
        return guess.mime
    try:
        data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "text/plain" if data else ""


def _extension(content_type: str) -> str:
    for kind in filetype.types:
        if kind.mime == content_type:
            return f".{kind.extension}"
    return ".txt" if content_type == "text/plain" else ".bin"


def attachment_file_store(*, attachment: Attachment, data: bytes) -> None:
    """Fills the file, detected type and size of an unsaved attachment (the caller saves it)."""
    detected = detect_content_type(data)
    attachment.detected_content_type = detected
    attachment.size = len(data)
    # The stored name is ours; the customer's file name is kept only as a label.
    attachment.file.save(f"{uuid.uuid4().hex}{_extension(detected)}", ContentFile(data), save=False)
