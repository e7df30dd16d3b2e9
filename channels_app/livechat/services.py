"""The visitor's side of live chat: tokens, origin checks, abuse limits, messages, transcripts.

A visitor is an opaque id: "v-<random>" for an anonymous visitor (kept in the browser through a
signed token), "u-<digest>" for a visitor the site vouched for with the widget's HMAC secret.
Either is the customer identity's address and names the visitor's socket group.
"""

import hashlib
import hmac
import logging
import uuid
from urllib.parse import urlparse

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction

from channels_app.livechat.availability import chat_staffed
from channels_app.livechat.limits import limit_hit
from channels_app.livechat.prechat import prechat_answers_clean, prechat_public
from channels_app.models import Attachment, ChannelKind, ChatWidget, Conversation, Message
from channels_app.providers.livechat.provider import event_body
from channels_app.providers.livechat.transport import message_frame, visitor_group
from channels_app.services.inbound import inbound_events_accept
from tenants.realtime import agent_group, send_event_on_commit

logger = logging.getLogger(__name__)

TOKEN_SALT = "livechat.visitor"
MAX_TEXT = 2000


class VisitorRefused(Exception):
    """A request the visitor gets a clear reason for; status is the HTTP status it maps to."""

    def __init__(self, reason: str, *, status: int = 400):
        super().__init__(reason)
        self.reason = reason
        self.status = status


def widget_for(*, widget_id) -> ChatWidget | None:
    try:
        return ChatWidget.objects.select_related("asset", "asset__tenant").get(
            widget_id=widget_id, asset__kind=ChannelKind.CHAT
        )
    except (ChatWidget.DoesNotExist, ValueError, signing.BadSignature):
        return None


def origin_allowed(*, widget: ChatWidget, origin: str, host: str) -> bool:
    """The widget's allowed origins, or this server's own pages (the demo page)."""
    origin = origin.rstrip("/")
    if not origin:
        return False
    if origin in widget.origins():
        return True
    own = {urlparse(settings.PUBLIC_BASE_URL).netloc}
    if host:
        own.add(host)
    return urlparse(origin).netloc in own


def visitor_token_issue(*, widget: ChatWidget, visitor: str) -> str:
    return signing.dumps({"w": str(widget.widget_id), "v": visitor}, salt=TOKEN_SALT)


def visitor_from_token(*, widget: ChatWidget, token: str) -> str:
    """The visitor a token names; a forged token, or one of another widget, is refused."""
    try:
        data = signing.loads(token, salt=TOKEN_SALT)
    except signing.BadSignature as exc:
        raise VisitorRefused("invalid visitor token", status=403) from exc
    if not isinstance(data, dict) or data.get("w") != str(widget.widget_id):
        raise VisitorRefused("this visitor token belongs to another widget", status=403)
    return str(data["v"])


def identity_signature(*, secret: str, user_id: str) -> str:
    """What the site computes on its server: hex HMAC-SHA256 of the visitor's id."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def verified_visitor(*, widget: ChatWidget, user_id: str, signature: str) -> str:
    if not widget.identity_secret:
        raise VisitorRefused("this widget does not verify identities")
    try:
        expected = identity_signature(secret=widget.identity_secret, user_id=user_id)
        given = (signature or "").encode()
    except UnicodeEncodeError as exc:
        raise VisitorRefused("user id and signature must be valid text") from exc
    # Bytes, not str: compare_digest refuses str with non-ASCII characters.
    if not user_id or not hmac.compare_digest(expected.encode(), given):
        raise VisitorRefused("identity signature does not match", status=403)
    digest = hashlib.sha256(f"{widget.widget_id}:{user_id}".encode()).hexdigest()[:40]
    return f"u-{digest}"


def visitor_session_start(
    *, widget: ChatWidget, token: str = "", ip: str, user_id: str = "", signature: str = ""
) -> dict:
    """Continues the visitor a token names, or starts a new one; a signed user id wins."""
    if user_id:
        visitor = verified_visitor(widget=widget, user_id=user_id, signature=signature)
    elif token:
        visitor = visitor_from_token(widget=widget, token=token)
    else:
        if limit_hit(what="session_ip", key=ip):
            raise VisitorRefused(
                "too many new chats from this address: try again in a minute", status=429
            )
        visitor = f"v-{uuid.uuid4().hex}"
    return {
        "token": visitor_token_issue(widget=widget, visitor=visitor),
        "visitor": visitor,
        "messages": visitor_history(widget=widget, visitor=visitor),
        "widget": widget_settings(widget=widget),
    }


def widget_settings(*, widget: ChatWidget) -> dict:
    return {
        "title": widget.title,
        "greeting": widget.greeting,
        "color": widget.color,
        "position": widget.position,
        "ask_name": widget.ask_name,
        "ask_email": widget.ask_email,
        "fields": prechat_public(widget.prechat_fields or []),
        "offline_text": widget.offline_text,
        "offline_behaviour": widget.offline_behaviour,
        # As the router sees it now: someone Available with room for a chat in a chat queue.
        "online": chat_staffed(asset=widget.asset),
        "upload_max_bytes": upload_max_bytes(widget=widget),
    }


def upload_max_bytes(*, widget: ChatWidget) -> int:
    from channels_app.selectors import channel_template_for

    template = channel_template_for(tenant=widget.asset.tenant, kind=ChannelKind.CHAT)
    return min(settings.LIVECHAT_UPLOAD_MAX_BYTES, template.max_bytes)


def _open_conversation(*, widget: ChatWidget, visitor: str) -> Conversation | None:
    return Conversation.objects.filter(
        asset=widget.asset, identity__address=visitor, status=Conversation.Status.OPEN
    ).first()


def _opening_checked(*, widget: ChatWidget, visitor: str, ip: str, fields, offline=False) -> dict:
    """The flow variables a visitor's first message starts a conversation with (the pre-chat
    answers, checked), or {} when the visitor has an open conversation already. Opening one
    counts against the new-conversation limits."""
    if _open_conversation(widget=widget, visitor=visitor) is not None:
        return {}
    try:
        answers = prechat_answers_clean(
            fields=widget.prechat_fields or [], answers=fields, require=True
        )
    except ValueError as exc:
        raise VisitorRefused(str(exc)) from exc
    if limit_hit(what="conversation_visitor", key=visitor) or limit_hit(
        what="conversation_ip", key=ip
    ):
        raise VisitorRefused("too many new conversations: try again in a few minutes", status=429)
    return answers


def visitor_history(*, widget: ChatWidget, visitor: str) -> list[dict]:
    """The visitor's messages: the open conversation, and for a verified visitor the past ones."""
    conversations = Conversation.objects.filter(asset=widget.asset, identity__address=visitor)
    if not visitor.startswith("u-"):
        conversations = conversations.filter(status=Conversation.Status.OPEN)
    messages = (
        Message.objects.filter(conversation__in=conversations)
        .select_related("author_agent")
        .prefetch_related("attachments")
        .order_by("created_at", "id")
    )
    return [message_frame(message) for message in messages[:500]]


def _client_id_clean(client_id: str) -> str:
    client_id = (client_id or "").strip()
    if not client_id or len(client_id) > 64 or ":" in client_id:
        raise VisitorRefused("a message needs a client id of at most 64 characters, no colon")
    return client_id


def _already_stored(*, widget: ChatWidget, visitor: str, client_id: str) -> Message | None:
    return (
        Message.objects.filter(asset=widget.asset, provider_message_id=f"{visitor}:{client_id}")
        .select_related("author_agent")
        .first()
    )


def _accept(*, widget: ChatWidget, piece, client_id: str, text: str) -> dict:
    with transaction.atomic():
        inbound_events_accept(asset=widget.asset, pieces=[piece], content_type="application/json")
    message = (
        Message.objects.filter(asset=widget.asset, provider_message_id=piece.provider_event_id)
        .select_related("author_agent")
        .first()
    )
    if message is None:
        # Processing runs on a worker: the visitor sees the message as accepted.
        return {
            "client_id": client_id,
            "status": "accepted",
            "direction": "in",
            "text": text,
            "files": [],
        }
    return message_frame(message)


def _text_checked(text: str) -> None:
    if not text:
        raise VisitorRefused("a message needs text")
    if len(text) > MAX_TEXT:
        raise VisitorRefused(f"a message is at most {MAX_TEXT} characters", status=413)


def _resent_or_admitted(
    *, widget: ChatWidget, visitor: str, client_id: str, ip: str
) -> dict | None:
    """The frame of a message already stored under this client id (a resend costs nothing), or
    None once the visitor's and the address's limits let a new one in (else 429)."""
    stored = _already_stored(widget=widget, visitor=visitor, client_id=client_id)
    if stored is not None:
        return message_frame(stored)
    if limit_hit(what="message_visitor", key=visitor) or limit_hit(what="message_ip", key=ip):
        raise VisitorRefused("you are sending too fast: wait a moment", status=429)
    return None


def visitor_message_post(
    *,
    widget: ChatWidget,
    visitor: str,
    client_id: str,
    text: str,
    name: str = "",
    ip: str,
    fields: dict | None = None,
) -> dict:
    """Stores a visitor's message once (the client id makes a resend harmless) and hands it to
    the shared inbound pipeline: conversation, the chat inbound flow, routing. The message that
    opens a conversation carries the pre-chat answers, which become its flow variables."""
    text = (text or "").strip()
    client_id = _client_id_clean(client_id)
    _text_checked(text)
    stored = _resent_or_admitted(widget=widget, visitor=visitor, client_id=client_id, ip=ip)
    if stored is not None:
        return stored
    variables = _opening_checked(widget=widget, visitor=visitor, ip=ip, fields=fields)
    piece = event_body(
        visitor=visitor, client_id=client_id, text=text, name=name, variables=variables
    )
    return _accept(widget=widget, piece=piece, client_id=client_id, text=text)


def visitor_offline_message(
    *,
    widget: ChatWidget,
    visitor: str,
    client_id: str,
    name: str,
    email: str,
    text: str,
    ip: str,
    fields: dict | None = None,
) -> dict:
    """ "Leave a message": a conversation answered by email. It is stored once for its client id,
    runs the chat inbound flow (which queues it at once) and every reply is mailed to `email`."""
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    if widget.offline_behaviour != ChatWidget.Offline.MESSAGE:
        raise VisitorRefused("this chat takes no messages while no one is available", status=409)
    client_id = _client_id_clean(client_id)
    name, email, text = (name or "").strip()[:120], (email or "").strip(), (text or "").strip()
    if not name:
        raise VisitorRefused("please give your name")
    try:
        validate_email(email)
    except ValidationError as exc:
        raise VisitorRefused("that is not an email address") from exc
    _text_checked(text)
    stored = _resent_or_admitted(widget=widget, visitor=visitor, client_id=client_id, ip=ip)
    if stored is not None:
        return stored
    variables = _opening_checked(widget=widget, visitor=visitor, ip=ip, fields=fields)
    if variables or _open_conversation(widget=widget, visitor=visitor) is None:
        variables = {**variables, "livechat_offline": True, "visitor_email": email}
    piece = event_body(
        visitor=visitor, client_id=client_id, text=text, name=name, variables=variables
    )
    return _accept(widget=widget, piece=piece, client_id=client_id, text=text)


def visitor_file_post(
    *,
    widget: ChatWidget,
    visitor: str,
    client_id: str,
    data: bytes,
    filename: str,
    name: str = "",
    ip: str,
    fields: dict | None = None,
) -> dict:
    """A visitor's file: capped in size, typed by its bytes against the chat template, scanned
    by clamd before anything is kept (an infected file is refused, nothing stored), then spooled
    and taken in like any inbound file (stored as an attachment, scanned again, shown to the
    agent once clean)."""
    import uuid as uuidlib

    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from channels_app import scanning
    from channels_app.media import attachment_refusal, detect_content_type
    from channels_app.providers.livechat.transport import UPLOAD_SPOOL
    from channels_app.selectors import channel_template_for

    client_id = _client_id_clean(client_id)
    stored = _already_stored(widget=widget, visitor=visitor, client_id=client_id)
    if stored is not None:
        return message_frame(stored)
    if limit_hit(what="upload_visitor", key=visitor) or limit_hit(what="upload_ip", key=ip):
        raise VisitorRefused("too many files: wait a moment", status=429)
    if not data:
        raise VisitorRefused("the file is empty")
    cap = upload_max_bytes(widget=widget)
    if len(data) > cap:
        raise VisitorRefused(f"a file is at most {cap // 1024} KB", status=413)
    content_type = detect_content_type(data)
    template = channel_template_for(tenant=widget.asset.tenant, kind=ChannelKind.CHAT)
    refusal = attachment_refusal(template=template, content_type=content_type, size=len(data))
    if refusal:
        raise VisitorRefused(refusal, status=415)
    verdict = scanning.scan_bytes(data)
    if verdict.status == scanning.INFECTED:
        logger.warning(
            "live-chat upload on asset %s refused: %s", widget.asset.uuid, verdict.signature
        )
        raise VisitorRefused("this file contains malware and was refused", status=422)
    variables = _opening_checked(widget=widget, visitor=visitor, ip=ip, fields=fields)
    filename = (filename or "").replace("/", "_").replace("\\", "_").strip()[:200] or "file"
    spooled = default_storage.save(f"{UPLOAD_SPOOL}{uuidlib.uuid4().hex}", ContentFile(data))
    piece = event_body(
        visitor=visitor,
        client_id=client_id,
        text="",
        name=name,
        variables=variables,
        upload={"name": spooled, "filename": filename, "content_type": content_type},
    )
    return _accept(widget=widget, piece=piece, client_id=client_id, text="")


def visitor_attachment(*, widget: ChatWidget, visitor: str, attachment_id) -> Attachment:
    """A clean file of one of the visitor's own conversations on this widget; anything else is
    "no such file"."""
    try:
        attachment_id = int(attachment_id)
    except (TypeError, ValueError):
        raise VisitorRefused("no such file", status=404) from None
    attachment = (
        Attachment.objects.filter(
            pk=attachment_id,
            message__asset=widget.asset,
            message__conversation__identity__address=visitor,
            scan_status=Attachment.ScanStatus.CLEAN,
        )
        .exclude(file="")
        .first()
    )
    if attachment is None:
        raise VisitorRefused("no such file", status=404)
    return attachment


def visitor_typing(*, widget: ChatWidget, visitor: str) -> None:
    conversation = (
        Conversation.objects.filter(
            asset=widget.asset, identity__address=visitor, status=Conversation.Status.OPEN
        )
        .only("id", "owner_id")
        .first()
    )
    if conversation and conversation.owner_id:
        send_event_on_commit(
            groups=[agent_group(conversation.owner_id)],
            event="conversation.typing",
            payload={"conversation_id": conversation.pk},
        )


def visitor_transcript_email(*, widget: ChatWidget, visitor: str, email: str) -> int:
    """Mails the visitor's current conversation; returns the number of messages sent."""
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    try:
        validate_email(email)
    except ValidationError as exc:
        raise VisitorRefused("that is not an email address") from exc
    if limit_hit(what="transcript_visitor", key=visitor):
        raise VisitorRefused("too many transcript requests: try again in a minute", status=429)
    frames = visitor_history(widget=widget, visitor=visitor)
    if not frames:
        raise VisitorRefused("there is no conversation to send yet")
    lines = [
        f"{f['at'][:16].replace('T', ' ')}  {'You' if f['direction'] == 'in' else f['author'] or 'Agent'}: {_line_text(f)}"
        for f in frames
    ]
    send_mail(
        subject=f"Your chat transcript: {widget.title}",
        message="\n".join(lines) + "\n",
        from_email=None,
        recipient_list=[email],
    )
    return len(frames)


def _line_text(frame: dict) -> str:
    files = ", ".join(f"[file: {f['name']}]" for f in frame.get("files", []))
    return " ".join(part for part in (frame["text"], files) if part)


def _visitor_of(conversation_id: int) -> str | None:
    conversation = (
        Conversation.objects.filter(pk=conversation_id, kind=ChannelKind.CHAT)
        .select_related("identity")
        .first()
    )
    return conversation.identity.address if conversation else None


def _agent_name(agent) -> str:
    return str(getattr(agent, "display_name", "") or agent)


def visitor_agent_joined(*, conversation_id: int, agent) -> None:
    """Tells a live-chat visitor the name of the agent who took their conversation."""
    visitor = _visitor_of(conversation_id)
    if visitor:
        send_event_on_commit(
            groups=[visitor_group(visitor)], event="agent", payload={"name": _agent_name(agent)}
        )


def agent_typing(*, conversation_id: int, agent) -> bool:
    """The visitor sees "<agent> is typing"; other channels have no typing indicator."""
    visitor = _visitor_of(conversation_id)
    if visitor:
        send_event_on_commit(
            groups=[visitor_group(visitor)], event="typing", payload={"agent": _agent_name(agent)}
        )
    return bool(visitor)
