"""Attachment bytes: what they really are (magic bytes, not the provider's word) and where they go."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import filetype
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import FileResponse
from django.utils import timezone

from channels_app.models import Attachment, ChannelTemplate
from channels_app.scanning import scanner_configured

# How an infected file is named everywhere it shows (desktop, console, API, exports).
UNKNOWN_FILE = "unknown file"


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
        taken = ", ".join(template.allowed_content_types) or "no files"
        if len(taken) > 120:
            taken = "see the channel's template"
        return (
            f"{template.label} does not take files of type {_normalized(content_type)} "
            f"(it takes: {taken})."
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
    saved = _saved_files.get()
    if saved is not None:
        saved.append(attachment.file.name)


def attachment_file_accept(
    *, attachment: Attachment, data: bytes, template: ChannelTemplate
) -> str | None:
    """Checks the bytes against the channel template, then stores them for scanning. A refused
    file keeps its row with the reason (returned) and no bytes; a taken one waits for its scan."""
    detected = detect_content_type(data)
    refusal = attachment_refusal(template=template, content_type=detected, size=len(data))
    if refusal:
        attachment.detected_content_type = detected
        attachment.size = len(data)
        attachment.refused_reason = refusal[:300]
        attachment.scan_status = Attachment.ScanStatus.NOT_SCANNED
        return refusal
    attachment_file_store(attachment=attachment, data=data)
    # Pending until clamd finds it clean; with no scanner configured, withheld as not scanned.
    if scanner_configured():
        attachment.scan_status = Attachment.ScanStatus.PENDING
        attachment.scan_queued_at = timezone.now()
    else:
        attachment.scan_status = Attachment.ScanStatus.NOT_SCANNED
    return None


_saved_files: ContextVar[list[str] | None] = ContextVar("saved_attachment_files", default=None)


@contextmanager
def files_removed_on_failure() -> Iterator[None]:
    """Attachment files saved inside the block are deleted again when it raises: the rows that
    named them were rolled back, and storage has no transactions. Wrap the atomic block."""
    saved: list[str] = []
    token = _saved_files.set(saved)
    try:
        yield
    except BaseException:
        for name in saved:
            default_storage.delete(name)
        raise
    finally:
        _saved_files.reset(token)


# Types a browser may show in the page (the desktop's <img>/<audio>/<video>); every other file is
# a download. SVG can carry script, so it is never inline.
_INLINE_FAMILIES = ("image/", "audio/", "video/")


def attachment_file_response(attachment: Attachment) -> FileResponse:
    """The file of a downloadable attachment, typed by its bytes and never sniffed."""
    content_type = _normalized(attachment.detected_content_type)
    inline = content_type.startswith(_INLINE_FAMILIES) and content_type != "image/svg+xml"
    filename = attachment.filename or f"attachment-{attachment.pk}{_extension(content_type)}"
    response = FileResponse(
        attachment.file.open("rb"),
        content_type=content_type,
        as_attachment=not inline,
        filename=filename,
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
