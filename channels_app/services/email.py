"""Email intake and mailbox checks: raw mails become the same raw inbound events as any webhook."""

import html as htmllib
import logging
import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from channels_app.models import (
    AuthorKind,
    ChannelAsset,
    ChannelKind,
    Conversation,
    EmailIntake,
    MailboxState,
    Message,
)
from channels_app.providers.email import imap
from channels_app.providers.email.connect import MailConnectionError, connection_check
from channels_app.providers.email.mime import html_sanitize, html_to_text
from channels_app.providers.email.provider import PROVIDER, raw_mail_piece
from channels_app.providers.email.transport import ADDRESS
from channels_app.services.inbound import inbound_events_accept
from channels_app.services.outbound import SendRefused, message_send
from tenants.models import Agent

logger = logging.getLogger(__name__)


def email_raw_accept(*, asset: ChannelAsset, raw: bytes, uid: str = "") -> list[int]:
    """Stores one raw mail once (by Message-ID) and queues its processing after commit."""
    return inbound_events_accept(
        asset=asset, pieces=[raw_mail_piece(raw, uid=uid)], content_type=PROVIDER.content_type
    )


def email_mailbox_assets():
    return ChannelAsset.objects.filter(
        kind=ChannelKind.EMAIL, email_intake=EmailIntake.IMAP
    ).exclude(imap_host="")


def email_mailbox_poll(*, asset: ChannelAsset) -> int:
    return imap.mailbox_poll(asset)


def email_mailboxes_poll() -> dict[str, int | str]:
    """Polls every IMAP mailbox once; one broken mailbox does not stop the others."""
    outcome: dict[str, int | str] = {}
    for asset in email_mailbox_assets():
        try:
            outcome[str(asset.uuid)] = imap.mailbox_poll(asset)
        except (MailConnectionError, OSError, Exception) as exc:  # noqa: BLE001
            outcome[str(asset.uuid)] = getattr(exc, "reason", str(exc))
    return outcome


def email_connection_check(*, asset: ChannelAsset) -> list[tuple[str, bool, str]]:
    """The admin console's "test connection": logs in to IMAP and SMTP and says what failed."""
    return connection_check(asset)


def email_mailbox_warnings(asset: ChannelAsset) -> list[str]:
    """The asset page tells the admin when the mailbox could not be read last time."""
    if asset.kind != ChannelKind.EMAIL or asset.email_intake != EmailIntake.IMAP:
        return []
    state = MailboxState.objects.filter(asset=asset).first()
    if state is None or not state.error:
        return []
    return [f"The mailbox could not be read at {state.checked_at:%Y-%m-%d %H:%M}: {state.error}"]


MAX_CC = 10
MAX_SUBJECT = 255
MAX_HTML = 100_000
_LIST = re.compile(r"<(ol|ul)\b[^>]*>(.*?)</\1>", re.IGNORECASE | re.DOTALL)
_ITEM = re.compile(r"<li\b[^>]*>", re.IGNORECASE)
_LINK = re.compile(r'<a\b[^>]*\shref="([^"]*)"[^>]*>(.*?)</a>', re.IGNORECASE | re.DOTALL)


def email_cc_clean(raw: str | list) -> list[str]:
    """The Cc addresses an agent typed (comma, semicolon or space separated), each checked;
    a wrong one is refused with the reason."""
    parts = re.split(r"[,;\s]+", raw) if isinstance(raw, str) else raw
    if not isinstance(parts, list):
        raise SendRefused("Cc must be a list of email addresses")
    addresses: list[str] = []
    for part in parts:
        if not isinstance(part, str):
            raise SendRefused("Cc must be a list of email addresses")
        address = part.strip()
        if not address:
            continue
        try:
            validate_email(address)
        except ValidationError:
            raise SendRefused(f"Cc: '{address[:100]}' is not an email address") from None
        if not ADDRESS.fullmatch(address):
            raise SendRefused(f"Cc: '{address[:100]}' is not an email address") from None
        if address.lower() not in (a.lower() for a in addresses):
            addresses.append(address)
    if len(addresses) > MAX_CC:
        raise SendRefused(f"Cc takes at most {MAX_CC} addresses")
    return addresses


def email_html_text(markup: str) -> str:
    """The text part of a composed mail: list items keep a bullet or their number, links
    keep their address."""

    def numbered(match: re.Match) -> str:
        # A list starts on its own line, even right after inline text.
        if match.group(1).lower() == "ul":
            return "<br>" + _ITEM.sub("<li>- ", match.group(0))
        counter = iter(range(1, 1000))
        return "<br>" + _ITEM.sub(lambda _: f"<li>{next(counter)}. ", match.group(0))

    def link(match: re.Match) -> str:
        url, label = htmllib.unescape(match.group(1)), match.group(2)
        shown = htmllib.unescape(re.sub(r"<[^>]*>", "", label)).strip()
        if not shown or shown == url or url == f"mailto:{shown}":
            return label
        return f"{label} ({htmllib.escape(url)})"

    marked = _LIST.sub(numbered, _LINK.sub(link, markup))
    return html_to_text(marked)


def email_html_clean(markup: str) -> tuple[str, str]:
    """The agent's HTML sanitized with the inbound allow-list, and the text derived from it."""
    if not isinstance(markup, str):
        raise SendRefused("the mail body must be HTML text")
    if len(markup) > MAX_HTML:
        raise SendRefused(f"the mail body is at most {MAX_HTML:,} characters of HTML")
    html = html_sanitize(markup).strip()
    text = email_html_text(html)
    if not text.strip():
        raise SendRefused("a mail needs some text")
    return html, text


def email_reply_send(
    *,
    conversation: Conversation,
    html: str,
    subject: str = "",
    cc: str | list = "",
    author_agent: Agent,
) -> Message:
    """An agent's formatted mail: subject, Cc and sanitized HTML, with its text part derived."""
    if conversation.kind != ChannelKind.EMAIL:
        raise SendRefused("subject, Cc and formatting are for email conversations")
    if not isinstance(subject, str):
        raise SendRefused("the subject must be text")
    subject = " ".join(subject.split())
    if len(subject) > MAX_SUBJECT:
        raise SendRefused(f"the subject is at most {MAX_SUBJECT} characters")
    addresses = email_cc_clean(cc)
    body, text = email_html_clean(html)
    content: dict = {"html": body}
    if addresses:
        content["cc"] = addresses
    if subject:
        content["subject"] = subject
    return message_send(
        conversation=conversation,
        text=text,
        content=content,
        author_kind=AuthorKind.AGENT,
        author_agent=author_agent,
    )
