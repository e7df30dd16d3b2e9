"""Real mail servers for the email tests: the project's Dovecot (started by
scripts/ensure-mail-servers.sh, one fresh mailbox per test) and an aiosmtpd SMTP server on a
loopback port that keeps what it received. Plus builders of real-shaped mails and signed posts."""

import hashlib
import hmac
import imaplib
import io
import os
import secrets
import socket
import time
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from email.utils import format_datetime

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope
from django.utils import timezone

from channels_app.models import ChannelKind, EmailIntake, MailSecurity
from tests.factories import ChannelAssetFactory

ASSET_ADDRESS = "support@acme.test"
SIGNING_KEY = "key-0123456789abcdef0123456789abcdef"
# The smallest PNG there is: 1x1, transparent.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)


@dataclass
class SmtpSink:
    """What the SMTP server received; `refuse` maps a recipient to the (code, text) it gets."""

    messages: list[tuple[Envelope, EmailMessage]] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            (envelope, BytesParser(policy=default_policy).parsebytes(envelope.content))
        )
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def _smtp_server():
    sink = SmtpSink()
    controller = Controller(sink, hostname="127.0.0.1", port=_free_port())
    controller.start()
    sink.port = controller.port
    yield sink
    controller.stop()


@pytest.fixture
def smtp_server(_smtp_server, settings) -> SmtpSink:
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    _smtp_server.messages.clear()
    _smtp_server.refuse.clear()
    return _smtp_server


@dataclass
class Mailbox:
    host: str
    port: int
    user: str
    password: str

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        client.login(self.user, self.password)
        return client

    def append(self, raw: bytes) -> None:
        """Delivers a mail into the mailbox the way a mail server does: IMAP APPEND, from outside."""
        client = self.client()
        try:
            status, data = client.append("INBOX", None, None, raw)
            assert status == "OK", data
        finally:
            client.logout()


@pytest.fixture
def mailbox(settings) -> Mailbox:
    port = os.environ.get("TEST_IMAP_PORT")
    if not port:
        pytest.skip("no Dovecot: run the tests through scripts/test.sh")
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    # Any user name logs in to the project's Dovecot: a fresh mailbox per test.
    return Mailbox(
        host=os.environ.get("TEST_IMAP_HOST", "127.0.0.1"),
        port=int(port),
        user=f"box-{uuid.uuid4().hex[:12]}",
        password=os.environ.get("TEST_IMAP_PASSWORD", "test-mail-password"),
    )


@pytest.fixture
def email_asset(tenant, mailbox, smtp_server):
    return ChannelAssetFactory(
        tenant=tenant,
        kind=ChannelKind.EMAIL,
        name="Acme Support",
        email_address=ASSET_ADDRESS,
        email_intake=EmailIntake.IMAP,
        imap_host=mailbox.host,
        imap_port=mailbox.port,
        imap_security=MailSecurity.NONE,
        imap_user=mailbox.user,
        imap_password=mailbox.password,
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        smtp_security=MailSecurity.NONE,
        email_signing_key=SIGNING_KEY,
    )


@pytest.fixture
def webhook_asset(tenant, smtp_server):
    return ChannelAssetFactory(
        tenant=tenant,
        kind=ChannelKind.EMAIL,
        name="Acme Mail Service",
        email_address="hello@acme.test",
        email_intake=EmailIntake.WEBHOOK,
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        smtp_security=MailSecurity.NONE,
        email_signing_key=SIGNING_KEY,
    )


def mail(
    *,
    text: str = "Hello, where is my parcel?",
    html: str | None = None,
    sender: str = "Erika Mustermann <erika@example.org>",
    to: str = ASSET_ADDRESS,
    subject: str = "Parcel 4711",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    headers: dict[str, str] | None = None,
    inline_png: str | None = None,
    attachment: tuple[str, bytes, str] | None = None,
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(timezone.now())
    message["Message-ID"] = f"<{message_id or uuid.uuid4().hex + '@example.org'}>"
    if in_reply_to:
        message["In-Reply-To"] = f"<{in_reply_to}>"
    if references:
        message["References"] = " ".join(f"<{r}>" for r in references)
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
        if inline_png:
            message.get_payload()[1].add_related(
                PNG, maintype="image", subtype="png", cid=f"<{inline_png}>", filename="logo.png"
            )
    if attachment:
        name, data, content_type = attachment
        major, minor = content_type.split("/")
        message.add_attachment(data, maintype=major, subtype=minor, filename=name)
    return message.as_bytes()


def bounce(*, original_message_id: str, recipient: str = "erika@example.org") -> bytes:
    """A real-shaped DSN (RFC 3464), as Postfix writes one, for a mail we sent."""
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\n"
        f"To: {ASSET_ADDRESS}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@mx.example.org>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="dsn-boundary"\r\n'
        "\r\n"
        "--dsn-boundary\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        "This is the mail system. Your message could not be delivered.\r\n"
        "--dsn-boundary\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        "Action: failed\r\n"
        "Status: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n"
        "--dsn-boundary\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: <{original_message_id}>\r\n"
        "Subject: Re: Parcel 4711\r\n"
        "--dsn-boundary--\r\n"
    ).encode()


def signed_form(raw: bytes, *, key: str = SIGNING_KEY, timestamp: int | None = None, token=None):
    """The fields Mailgun posts to a 'store and notify' route ending in mime, signed its way."""
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    token = token or secrets.token_hex(25)
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {
        "recipient": ASSET_ADDRESS,
        "sender": "erika@example.org",
        "timestamp": timestamp,
        "token": token,
        "signature": signature,
        "body-mime": _field(raw),
    }


def _field(raw: bytes):
    try:
        return raw.decode()
    except UnicodeDecodeError:
        # 8-bit mail in another charset: posted as the bytes they are.
        upload = io.BytesIO(raw)
        upload.name = "message.mime"
        return upload
