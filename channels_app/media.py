"""Attachment bytes: what they really are (magic bytes, not the provider's word) and where they go."""

import uuid

import filetype
from django.conf import settings
from django.core.files.base import ContentFile

from channels_app.models import Attachment, ChannelTemplate


def media_max_bytes(kind: str) -> int:
    """The largest download from a channel's provider (its own hard limit); the channel template
    may take less."""
    return settings.MEDIA_MAX_BYTES.get(kind, settings.OUTBOUND_MAX_BYTES)


def _normalized(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower() or "application/octet-stream"


def content_type_allowed(*, allowed: list[str], content_type: str) -> bool:
    """Exact types ("application/pdf") and families ("image/*") of a template's list."""
    content_type = _normalized(content_type)
    family = content_type.split("/", 1)[0] + "/*"
    return content_type in allowed or family in allowed


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB".replace(".0 MB", " MB")
    if n >= 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n} bytes"


def attachment_refusal(*, template: ChannelTemplate, content_type: str, size: int) -> str | None:
    """Why the channel does not take this file (size or type), in words for a person; None when
    it does. `content_type` is the type detected from the bytes, never the sender's word."""
    if size > template.max_bytes:
        return (
            f"The file is {_size(size)}; {template.label} takes files up to "
            f"{_size(template.max_bytes)}."
        )
    if not content_type_allowed(allowed=template.allowed_content_types, content_type=content_type):
        return (
            f"{template.label} does not take files of type {_normalized(content_type)} "
            f"(it takes: {', '.join(template.allowed_content_types) or 'no files'})."
        )
    return None


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
