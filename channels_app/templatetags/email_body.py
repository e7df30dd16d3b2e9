"""Showing an email safely in the agent desktop and the care console.

The HTML was sanitized on the way in; it is sanitized again here (content may come from other
paths), inline images (cid:) point at our own attachment download, remote images are held back
(the page's CSP allows only our own images anyway) and quoted history is cut off to be shown
collapsed."""

import html as htmllib
import re

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.safestring import mark_safe

from channels_app.providers.email.mime import html_sanitize

register = template.Library()

_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_SRC = re.compile(r'\ssrc="([^"]*)"', re.IGNORECASE)
_ALT = re.compile(r'\salt="([^"]*)"', re.IGNORECASE)
_QUOTE = re.compile(r"<blockquote\b", re.IGNORECASE)


def _images(markup: str, inline_urls: dict[str, str]) -> tuple[str, int]:
    held = 0

    def swap(match: re.Match) -> str:
        nonlocal held
        tag = match.group(0)
        src = _SRC.search(tag)
        url = src.group(1) if src else ""
        if url.lower().startswith("cid:"):
            local = inline_urls.get(url[4:])
            if local:
                return _SRC.sub(f' src="{local}"', tag, count=1)
        held += 1
        alt = _ALT.search(tag)
        label = alt.group(1) if alt and alt.group(1) else "image"
        # The address stays (as sanitized, still escaped) for the "Show images" button.
        data = f' data-src="{url}"' if url.lower().startswith(("http://", "https://")) else ""
        return (
            f'<span class="email-image-held" title="Remote image not loaded"{data}>[{label}]</span>'
        )

    return _IMG.sub(swap, markup), held


def email_remote_images(message) -> set[str]:
    """The remote image addresses of a message's sanitized HTML: the only ones the desktop may
    fetch for it."""
    markup = html_sanitize((message.content or {}).get("html") or "")
    found = set()
    for tag in _IMG.findall(markup):
        src = _SRC.search(tag)
        url = htmllib.unescape(src.group(1)) if src else ""
        if url.lower().startswith(("http://", "https://")):
            found.add(url)
    return found


@register.simple_tag
def email_reply_subject(messages) -> str:
    """The subject an agent's reply starts with: "Re: " and the customer's latest subject."""
    from channels_app.models import Direction
    from channels_app.providers.email.transport import reply_subject

    for message in reversed(list(messages)):
        subject = (message.content or {}).get("subject")
        if message.direction == Direction.INBOUND and subject:
            return reply_subject(str(subject))
    return ""


@register.simple_tag
def email_view(message, attachment_url: str = "") -> dict:
    """What the email template shows: subject, cc, the safe HTML body and its quoted history,
    the held-back remote images and the attachments that are not inline images."""
    content = message.content or {}
    url_name = attachment_url or "desktop-attachment"
    attachments = list(message.attachments.all())
    inline_ids = set((content.get("inline") or {}).values())
    inline_urls: dict[str, str] = {}
    for attachment in attachments:
        if attachment.provider_media_id in inline_ids and attachment.file:
            if attachment.scan_status == "infected":
                continue
            for cid, media_id in content["inline"].items():
                if media_id == attachment.provider_media_id:
                    try:
                        inline_urls[cid] = reverse(url_name, args=[attachment.pk])
                    except NoReverseMatch:
                        pass
    html, quoted_html, held = "", "", 0
    if content.get("html"):
        safe = html_sanitize(content["html"])
        quote = _QUOTE.search(safe)
        if quote and quote.start() > 0:
            fresh, quoted = safe[: quote.start()], safe[quote.start() :]
            html, held = _images(html_sanitize(fresh), inline_urls)
            quoted_html, more = _images(html_sanitize(quoted), inline_urls)
            held += more
        else:
            html, held = _images(safe, inline_urls)
    return {
        "subject": content.get("subject", ""),
        "cc": content.get("cc") or [],
        "html": mark_safe(html),  # noqa: S308 - sanitized by nh3 just above
        "quoted_html": mark_safe(quoted_html),  # noqa: S308
        "quoted_text": content.get("quoted_text", ""),
        "held_images": held,
        "attachments": [a for a in attachments if a.provider_media_id not in inline_ids],
    }
