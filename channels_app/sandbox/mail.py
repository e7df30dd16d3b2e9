"""The sandbox's mailbox for the embedded demo's email asset: what a mail service would do.

Out: POST /email/messages.mime (form fields `to` and `message`, the raw MIME; basic auth
api:<key>) is recorded like any other send, with its subject, parts and threading headers.
In: `customer_mail` writes the customer's mail (plain, HTML with a table, an attachment) and
`sign_mail_webhook` posts it the way Mailgun posts a stored message: signed form fields with the
raw MIME in `body-mime`.
"""

import hashlib
import hmac
import secrets
import time
import uuid
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from email.utils import format_datetime, formataddr
from urllib.parse import parse_qs

from django.utils import timezone

SAMPLE_HTML = (
    "<p>Hello,</p><p>my order did not arrive complete:</p>"
    "<table border='1'><tr><th>Item</th><th>Ordered</th><th>Received</th></tr>"
    "<tr><td>Shoes</td><td>2</td><td>1</td></tr></table>"
    "<p>Details on <a href='https://example.org/order/4711'>the order page</a>.</p>"
)


def customer_mail(
    *,
    sender: str,
    to: str,
    text: str,
    name: str = "Sandbox Customer",
    subject: str = "",
    html: bool = False,
    attachment: tuple[bytes, str, str] | None = None,
    in_reply_to: str = "",
) -> bytes:
    message = EmailMessage()
    message["From"] = formataddr((name, sender))
    message["To"] = to
    message["Subject"] = subject or (f"Re: {text[:40]}" if in_reply_to else text[:60] or "Hello")
    message["Date"] = format_datetime(timezone.now())
    message["Message-ID"] = f"<{uuid.uuid4().hex}@sandbox.example>"
    if in_reply_to:
        message["In-Reply-To"] = f"<{in_reply_to.strip('<>')}>"
        message["References"] = f"<{in_reply_to.strip('<>')}>"
    message.set_content(text or "Hello")
    if html:
        message.add_alternative(f"<p>{text}</p>{SAMPLE_HTML}", subtype="html")
    if attachment:
        content, content_type, filename = attachment
        major, _, minor = content_type.partition("/")
        message.add_attachment(content, maintype=major, subtype=minor, filename=filename)
    return message.as_bytes()


def mail_webhook_form(raw: bytes, *, key: str, recipient: str) -> tuple[bytes, str]:
    """A multipart/form-data body signed as Mailgun signs it, and its content type."""
    timestamp = str(int(time.time()))
    token = secrets.token_hex(25)
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    boundary = f"sandbox{uuid.uuid4().hex}"
    fields = {
        "recipient": recipient.encode(),
        "timestamp": timestamp.encode(),
        "token": token.encode(),
        "signature": signature.encode(),
        "body-mime": raw,
    }
    body = b""
    for name, value in fields.items():
        body += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value
            + b"\r\n"
        )
    body += f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def sent_mail(body: bytes) -> tuple[dict, dict] | None:
    """What the sandbox records of a mail posted to /email/messages.mime, and its answer."""
    form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    if "message" not in form:
        return None
    message = BytesParser(policy=default_policy).parsebytes(form["message"].encode())
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    payload = {
        "to": form.get("to", ""),
        "subject": str(message.get("Subject", "")),
        "message_id": str(message.get("Message-ID", "")),
        "in_reply_to": str(message.get("In-Reply-To", "")),
        "references": str(message.get("References", "")),
        "text": text.get_content() if text is not None else "",
        "html": html.get_content() if html is not None else "",
        "attachments": [part.get_filename() for part in message.iter_attachments()],
    }
    answer = {"id": payload["message_id"], "message": "Queued. Thank you."}
    return payload, answer
