"""Connections to an asset's IMAP and SMTP servers, through the same address check as every other
outbound connection (config.outbound): the host is resolved once, a private or loopback address
is refused unless the operator allowed the host, and the socket goes to the checked address while
TLS still verifies the host's name."""

import imaplib
import smtplib
import socket
import ssl

from channels_app.models import MailSecurity
from config.outbound import OutboundError, _resolve

TIMEOUT_SECONDS = 30
DEFAULT_PORTS = {
    ("imap", MailSecurity.TLS): 993,
    ("imap", MailSecurity.STARTTLS): 143,
    ("imap", MailSecurity.NONE): 143,
    ("smtp", MailSecurity.TLS): 465,
    ("smtp", MailSecurity.STARTTLS): 587,
    ("smtp", MailSecurity.NONE): 25,
}


class MailConnectionError(Exception):
    """Why a mail server could not be reached or refused us; `transient` when worth a retry."""

    def __init__(self, reason: str, *, transient: bool = True):
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


def _address(host: str, port: int) -> str:
    try:
        return _resolve(host, port)
    except OutboundError as exc:
        raise MailConnectionError(exc.reason, transient=exc.transient) from exc


class _PinnedIMAP(imaplib.IMAP4):
    def __init__(self, host: str, port: int, address: str):
        self._address = address
        super().__init__(host, port, timeout=TIMEOUT_SECONDS)

    def _create_socket(self, timeout):
        return socket.create_connection((self._address, self.port), timeout)


class _PinnedIMAPS(imaplib.IMAP4_SSL):
    def __init__(self, host: str, port: int, address: str):
        self._address = address
        super().__init__(
            host, port, ssl_context=ssl.create_default_context(), timeout=TIMEOUT_SECONDS
        )

    def _create_socket(self, timeout):
        sock = socket.create_connection((self._address, self.port), timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)


class _PinnedSMTP(smtplib.SMTP):
    def __init__(self, host: str, port: int, address: str):
        self._address = address
        super().__init__(host, port, timeout=TIMEOUT_SECONDS)

    def _get_socket(self, host, port, timeout):
        return socket.create_connection((self._address, port), timeout)


class _PinnedSMTPS(smtplib.SMTP_SSL):
    def __init__(self, host: str, port: int, address: str):
        self._address = address
        super().__init__(host, port, timeout=TIMEOUT_SECONDS, context=ssl.create_default_context())

    def _get_socket(self, host, port, timeout):
        sock = socket.create_connection((self._address, port), timeout)
        return self.context.wrap_socket(sock, server_hostname=self._host)


def imap_login(asset) -> imaplib.IMAP4:
    """A logged-in IMAP client for the asset's mailbox; MailConnectionError says what failed."""
    security = asset.imap_security or MailSecurity.TLS
    port = asset.imap_port or DEFAULT_PORTS[("imap", security)]
    address = _address(asset.imap_host, port)
    try:
        if security == MailSecurity.TLS:
            client = _PinnedIMAPS(asset.imap_host, port, address)
        else:
            client = _PinnedIMAP(asset.imap_host, port, address)
            if security == MailSecurity.STARTTLS:
                client.starttls(ssl_context=ssl.create_default_context())
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailConnectionError(
            f"IMAP: cannot connect to {asset.imap_host}:{port}: {exc}"
        ) from exc
    try:
        client.login(asset.imap_user, asset.imap_password)
    except imaplib.IMAP4.error as exc:
        _close_quietly(client)
        raise MailConnectionError(
            f"IMAP: {asset.imap_host} refused the login of {asset.imap_user}: {_text(exc)}",
            transient=False,
        ) from exc
    except OSError as exc:
        raise MailConnectionError(f"IMAP: connection to {asset.imap_host} lost: {exc}") from exc
    return client


def smtp_login(asset) -> smtplib.SMTP:
    security = asset.smtp_security or MailSecurity.STARTTLS
    port = asset.smtp_port or DEFAULT_PORTS[("smtp", security)]
    address = _address(asset.smtp_host, port)
    try:
        if security == MailSecurity.TLS:
            client = _PinnedSMTPS(asset.smtp_host, port, address)
        else:
            client = _PinnedSMTP(asset.smtp_host, port, address)
            if security == MailSecurity.STARTTLS:
                client.starttls(context=ssl.create_default_context())
    except (OSError, smtplib.SMTPException) as exc:
        raise MailConnectionError(
            f"SMTP: cannot connect to {asset.smtp_host}:{port}: {exc}"
        ) from exc
    if asset.smtp_user:
        try:
            client.login(asset.smtp_user, asset.smtp_password)
        except smtplib.SMTPException as exc:
            _close_quietly(client)
            raise MailConnectionError(
                f"SMTP: {asset.smtp_host} refused the login of {asset.smtp_user}: {exc}",
                transient=False,
            ) from exc
    return client


def _text(exc: Exception) -> str:
    value = exc.args[0] if exc.args else exc
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _close_quietly(client) -> None:
    try:
        if isinstance(client, imaplib.IMAP4):
            client.logout()
        else:
            client.quit()
    except Exception:  # noqa: BLE001 - closing a broken connection may fail in any way
        pass


def connection_check(asset) -> list[tuple[str, bool, str]]:
    """Logs in to IMAP (when the asset has a mailbox) and to SMTP; per server: name, ok, what happened."""
    results: list[tuple[str, bool, str]] = []
    if asset.imap_host:
        try:
            client = imap_login(asset)
            status, data = client.select(asset.imap_folder or "INBOX", readonly=True)
            if status != "OK":
                results.append(
                    (
                        "IMAP",
                        False,
                        f"logged in, but the folder {asset.imap_folder!r} cannot be "
                        f"opened: {_text(Exception(*(data or [b''])))}",
                    )
                )
            else:
                count = int(data[0] or 0)
                results.append(
                    ("IMAP", True, f"logged in; {asset.imap_folder} holds {count} mails")
                )
            _close_quietly(client)
        except MailConnectionError as exc:
            results.append(("IMAP", False, exc.reason))
        except (OSError, imaplib.IMAP4.error) as exc:
            results.append(("IMAP", False, f"IMAP: {exc}"))
    if asset.smtp_host:
        try:
            client = smtp_login(asset)
            code, _ = client.noop()
            results.append(
                ("SMTP", code == 250, f"connected{' and logged in' if asset.smtp_user else ''}")
            )
            _close_quietly(client)
        except MailConnectionError as exc:
            results.append(("SMTP", False, exc.reason))
        except (OSError, smtplib.SMTPException) as exc:
            results.append(("SMTP", False, f"SMTP: {exc}"))
    return results
