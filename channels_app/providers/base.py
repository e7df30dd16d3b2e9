"""What every provider package hands to the shared webhook view and to the services.

A provider package exposes `PROVIDER`, an object with:
- `handshake(request, asset) -> HttpResponse | None`: answers a GET verification, if any;
- `signature_valid(request, asset) -> bool`: constant-time check of the provider's signature;
- `split(asset, body, content_type) -> Split`: cuts one signed POST into events to store, each
  keyed by the provider's id and stored raw; raises MalformedEvent with a reason;
- `parse(asset, body, content_type) -> list[Item]`: turns one stored event into normalized items
  (InboundMessage, StatusUpdate, Ignored); raises MalformedEvent;
- `transport(asset) -> Transport`: outbound calls (send, mark read, media download);
- `acknowledgement` and `acknowledgement_type`: the body and content type of the 200 the provider
  expects once an event is stored.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class MalformedEvent(ValueError):
    """A signed event whose body we cannot read; the message is the reason shown to the provider."""


# What reading an untrusted body can raise when its shape is not the one a parser expects (a
# string where an object belongs, a missing key): the body is unreadable, not the server broken.
SHAPE_ERRORS = (TypeError, AttributeError, KeyError, IndexError, ValueError, RecursionError)


def malformed_from(exc: Exception) -> MalformedEvent:
    """The MalformedEvent to record for an exception a parser raised on an untrusted body."""
    if isinstance(exc, MalformedEvent):
        return exc
    return MalformedEvent(f"unexpected shape ({type(exc).__name__}: {exc})"[:1000])


class SendError(Exception):
    def __init__(self, reason: str, *, status_code: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status_code = status_code


class TransientSendError(SendError):
    """Worth retrying: 5xx, 429, timeouts, connection errors."""


class PermanentSendError(SendError):
    """The provider refused the message for good (4xx); its reason is kept on the message."""


@dataclass
class MediaRef:
    """Where to fetch an attachment from the provider."""

    kind: str  # image, document, audio, voice, video, sticker, file
    media_id: str = ""
    url: str = ""
    declared_content_type: str = ""
    filename: str = ""


@dataclass
class InboundMessage:
    provider_message_id: str
    sender_address: str
    content_type: str = "text"
    text: str = ""
    content: dict[str, Any] = field(default_factory=dict)
    sender_name: str = ""
    reply_to_provider_id: str = ""
    media: list[MediaRef] = field(default_factory=list)
    sent_at: datetime | None = None
    # Provider ids of earlier messages this one continues (email's In-Reply-To and References):
    # the conversation holding them is the one it joins.
    thread_provider_ids: list[str] = field(default_factory=list)
    # Flow variables a new conversation starts with (a live-chat pre-chat form's answers).
    variables: dict[str, Any] = field(default_factory=dict)


@dataclass
class StatusUpdate:
    """Delivery news about outbound messages: by provider id, or up to a watermark (Messenger)."""

    status: str  # sent, delivered, read, failed
    provider_message_ids: list[str] = field(default_factory=list)
    at: datetime | None = None
    error: str = ""
    # Messenger reports "read up to <watermark>" for a recipient instead of message ids.
    watermark_recipient: str = ""


@dataclass
class Ignored:
    reason: str


@dataclass
class ConversationEnded:
    """The customer ended the conversation on their side (Apple's close event)."""

    sender_address: str
    reason: str


@dataclass
class CustomerTyping:
    """The customer started (or stopped) typing (Apple's typing_start and typing_end)."""

    sender_address: str
    typing: bool


Item = InboundMessage | StatusUpdate | Ignored | ConversationEnded | CustomerTyping


@dataclass
class StoredPiece:
    """One event to store from a POST: the provider's id and the raw body kept for it."""

    provider_event_id: str
    body: str
    handled: bool = True  # False: a kind we do not handle (stored as ignored, answered 200)


@dataclass
class Split:
    pieces: list[StoredPiece]


@dataclass
class SendResult:
    provider_message_id: str


@dataclass
class Media:
    content: bytes
    content_type: str = ""
    filename: str = ""


class Transport(Protocol):
    def send(self, *, message, to: str, idempotency_key: str) -> SendResult: ...

    def mark_read(self, *, message) -> None: ...

    def download(self, *, ref: MediaRef) -> Media: ...
