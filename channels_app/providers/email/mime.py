"""Reading raw MIME mail: ids and threading headers, text and HTML, attachments, and the marks of
mail written by machines (auto-replies, bounces) that must never start a conversation."""

import base64
import html as htmllib
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

import nh3

from channels_app.providers.util import body_hash

# A trace header put in front of a mail fetched over IMAP: the folder's UIDVALIDITY and the UID.
UID_HEADER = "X-Mailbox-UID"
BASE64_PREFIX = "base64,"
PRECEDENCE_AUTOMATIC = {"bulk", "junk", "list", "auto_reply", "auto-reply"}
AUTOREPLY_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Reply")
BOUNCE_SENDERS = ("mailer-daemon@", "postmaster@")

# What survives sanitizing: formatting, tables, links and images (remote ones are held back at
# display time). No script, style, form, frame or event handler, whatever the mail holds.
ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "caption",
    "code",
    "col",
    "colgroup",
    "dd",
    "del",
    "div",
    "dl",
    "dt",
    "em",
    "font",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "ins",
    "li",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan", "align", "valign"},
    "th": {"colspan", "rowspan", "align", "valign", "scope"},
    "table": {"border", "cellpadding", "cellspacing", "width"},
    "col": {"span", "width"},
    "colgroup": {"span", "width"},
    "ol": {"start", "type"},
    "font": {"color"},
    "*": {"dir", "lang"},
}
URL_SCHEMES = {"http", "https", "mailto", "cid"}


def html_sanitize(markup: str) -> str:
    """Mail HTML made safe to show inside our pages (nh3: the Rust ammonia sanitizer)."""
    return nh3.clean(
        markup,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def html_to_text(markup: str) -> str:
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</tr>|</li>|</h\d>", "\n", markup)
    text = htmllib.unescape(nh3.clean(text, tags=set()))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def text_to_html(text: str) -> str:
    paragraphs = [p for p in re.split(r"\n{2,}", text.strip()) if p]
    return (
        "".join("<p>" + htmllib.escape(p).replace("\n", "<br>") + "</p>" for p in paragraphs)
        or "<p></p>"
    )


def stored_body(raw: bytes) -> str:
    """Raw MIME as kept in a text column: as is when it is UTF-8 text, else base64 (8-bit mail in
    another charset, or NUL bytes PostgreSQL's text cannot hold)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and "\x00" not in text and not text.startswith(BASE64_PREFIX):
        return text
    return BASE64_PREFIX + base64.b64encode(raw).decode("ascii")


def raw_bytes(body: str) -> bytes:
    if body.startswith(BASE64_PREFIX):
        return base64.b64decode(body[len(BASE64_PREFIX) :])
    return body.encode("utf-8")


def parse_mail(raw: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(raw)


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except (ValueError, TypeError, IndexError):
        # A header broken beyond what the parser repairs reads as empty, not as a crash.
        return ""
    return str(value).strip() if value is not None else ""


def message_ids(value: str) -> list[str]:
    """The ids in a Message-ID, In-Reply-To or References header, without angle brackets."""
    found = re.findall(r"<([^<>\s]+)>", value)
    if not found and value.strip() and " " not in value.strip():
        found = [value.strip()]
    return found


def message_id_of(message: EmailMessage, raw: bytes) -> str:
    ids = message_ids(_header(message, "Message-ID"))
    return ids[0][:250] if ids else f"sha:{body_hash(raw)}"


def automatic_reason(message: EmailMessage) -> str | None:
    """Why this mail was written by a machine (RFC 3834 and common practice), or None."""
    auto = _header(message, "Auto-Submitted").lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    precedence = _header(message, "Precedence").lower()
    if precedence in PRECEDENCE_AUTOMATIC:
        return f"Precedence: {precedence}"
    for name in AUTOREPLY_HEADERS:
        if _header(message, name):
            return f"{name} header"
    if _header(message, "X-Auto-Response-Suppress").lower() in ("all", "oof", "autoreply"):
        # Exchange marks its own out-of-office replies this way.
        if "auto" in _header(message, "Subject").lower():
            return "X-Auto-Response-Suppress on an automatic reply"
    if is_bounce(message):
        return "a delivery status notification (bounce)"
    return None


def is_bounce(message: EmailMessage) -> bool:
    content_type = message.get_content_type()
    if content_type == "multipart/report" or content_type == "message/delivery-status":
        return True
    if _header(message, "Return-Path") == "<>":
        return True
    sender = parseaddr(_header(message, "From"))[1].lower()
    return sender.startswith(BOUNCE_SENDERS)


@dataclass
class Bounce:
    original_message_ids: list[str]
    reason: str


def bounce_details(message: EmailMessage) -> Bounce:
    """The message a DSN is about and why it failed (RFC 3464)."""
    ids: list[str] = []
    reasons: list[str] = []
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type == "message/delivery-status":
            payload = part.get_payload()
            blocks = payload if isinstance(payload, list) else []
            for block in blocks:
                action = str(block.get("Action", "")).lower()
                if action and action != "failed":
                    continue
                status = str(block.get("Status", "")).strip()
                diagnostic = str(block.get("Diagnostic-Code", "")).strip()
                recipient = str(block.get("Final-Recipient", "")).split(";")[-1].strip()
                if status or diagnostic:
                    reasons.append(
                        " ".join(
                            x
                            for x in (recipient, f"status {status}" if status else "", diagnostic)
                            if x
                        )
                    )
        elif content_type in ("message/rfc822", "text/rfc822-headers"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                ids += message_ids(_header(payload[0], "Message-ID"))
            elif isinstance(payload, str):
                match = re.search(r"(?im)^Message-ID:\s*(<[^>]+>)", payload)
                if match:
                    ids += message_ids(match.group(1))
    reason = "bounced: " + (
        "; ".join(reasons) if reasons else "the receiving server returned the mail"
    )
    return Bounce(original_message_ids=ids, reason=reason[:1000])


QUOTE_START = re.compile(
    r"(?m)^(On .{5,200} wrote:|Am .{5,200} schrieb .{0,100}:|-----\s*Original Message\s*-----|"
    r"From: .+\n(Sent|Date): )"
)


def split_quoted(text: str) -> tuple[str, str]:
    """The new part of a reply and the quoted history below it (shown collapsed)."""
    match = QUOTE_START.search(text)
    if match and match.start() > 0:
        return text[: match.start()].rstrip(), text[match.start() :].strip()
    lines = text.rstrip().split("\n")
    cut = len(lines)
    while cut > 0 and (lines[cut - 1].startswith(">") or not lines[cut - 1].strip()):
        cut -= 1
    if 0 < cut < len(lines):
        return "\n".join(lines[:cut]).rstrip(), "\n".join(lines[cut:]).strip()
    return text.strip(), ""


@dataclass
class Part:
    index: int
    content_type: str
    filename: str
    content_id: str
    inline: bool


@dataclass
class Body:
    text: str = ""
    html: str = ""
    parts: list[Part] = field(default_factory=list)


def _decoded_text(part: EmailMessage) -> str:
    try:
        return part.get_content()
    except (LookupError, ValueError, AssertionError):
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", errors="replace")


def body_of(message: EmailMessage) -> Body:
    """The first text/plain and text/html bodies, and every other leaf part as a file."""
    body = Body()
    for index, part in enumerate(message.walk()):
        if part.is_multipart():
            continue
        content_type = part.get_content_type()
        disposition = part.get_content_disposition()
        filename = part.get_filename() or ""
        content_id = message_ids(_header(part, "Content-ID"))
        if disposition != "attachment" and not filename:
            if content_type == "text/plain" and not body.text:
                body.text = _decoded_text(part)
                continue
            if content_type == "text/html" and not body.html:
                body.html = _decoded_text(part)
                continue
        if content_type in ("message/delivery-status", "text/rfc822-headers"):
            continue
        body.parts.append(
            Part(
                index=index,
                content_type=content_type,
                filename=filename or f"part-{index}",
                content_id=content_id[0] if content_id else "",
                inline=bool(content_id),
            )
        )
    return body


def part_bytes(message: EmailMessage, index: int) -> tuple[bytes, str, str]:
    for position, part in enumerate(message.walk()):
        if position == index and not part.is_multipart():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload, part.get_content_type(), part.get_filename() or ""
            return part.as_bytes(), part.get_content_type(), part.get_filename() or ""
    raise KeyError(f"no part {index}")


def addresses(message: EmailMessage, name: str) -> list[str]:
    return [addr.lower() for _, addr in getaddresses([_header(message, name)]) if addr]


def sender_of(message: EmailMessage) -> tuple[str, str]:
    name, address = parseaddr(_header(message, "Reply-To") or _header(message, "From"))
    if not address:
        name, address = parseaddr(_header(message, "From"))
    if not name:
        name = parseaddr(_header(message, "From"))[0]
    return name, address.lower()


def date_of(message: EmailMessage):
    value = _header(message, "Date")
    if not value:
        return None
    try:
        at = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return at if at.tzinfo else None


def header(message: EmailMessage, name: str) -> str:
    return _header(message, name)
