"""IMAP intake: UID-based, so a restart neither loses nor repeats a mail.

Each new UID's raw message is stored as the raw inbound event (keyed by Message-ID) and the
mailbox's last UID moves in the same transaction: a crash before the commit fetches the mail
again next time (and the Message-ID keeps it single); after the commit the UID is never fetched
again. The folder is opened read-only and bodies are fetched with BODY.PEEK: the mailbox's
\\Seen flags stay the users' business."""

import imaplib
import logging
import re
import select

from django.db import transaction
from django.utils import timezone

from channels_app.providers.email.connect import MailConnectionError, imap_login

logger = logging.getLogger(__name__)

BATCH = 200


class ImapProtocolError(MailConnectionError):
    pass


def _uidvalidity(client: imaplib.IMAP4) -> int:
    _, data = client.response("UIDVALIDITY")
    try:
        return int(data[0])
    except (TypeError, ValueError, IndexError) as exc:
        raise ImapProtocolError("IMAP: the server gave no UIDVALIDITY") from exc


def _fetch_raw(client: imaplib.IMAP4, uid: int) -> bytes | None:
    status, data = client.uid("FETCH", str(uid), "(BODY.PEEK[])")
    if status != "OK":
        raise ImapProtocolError(f"IMAP: FETCH of UID {uid} failed: {data!r}")
    for item in data:
        if isinstance(item, tuple) and len(item) == 2:
            return item[1]
    return None  # expunged meanwhile


def mailbox_select(asset, client: imaplib.IMAP4) -> int:
    status, data = client.select(asset.imap_folder or "INBOX", readonly=True)
    if status != "OK":
        raise ImapProtocolError(f"IMAP: cannot open folder {asset.imap_folder!r}: {data!r}")
    return _uidvalidity(client)


def mailbox_fetch_new(asset, client: imaplib.IMAP4, *, batch: int = BATCH) -> int:
    """Stores the mails above the last stored UID; returns how many were new to us."""
    from channels_app.models import MailboxState
    from channels_app.services.email import email_raw_accept

    uidvalidity = mailbox_select(asset, client)
    state, _ = MailboxState.objects.get_or_create(asset=asset)
    if state.uidvalidity != uidvalidity:
        logger.info(
            "mailbox of asset %s: UIDVALIDITY %s -> %s, reading the folder again",
            asset.uuid,
            state.uidvalidity,
            uidvalidity,
        )
        MailboxState.objects.filter(pk=state.pk).update(uidvalidity=uidvalidity, last_uid=0)
        state.uidvalidity, state.last_uid = uidvalidity, 0
    status, data = client.uid("SEARCH", None, f"UID {state.last_uid + 1}:*")
    if status != "OK":
        raise ImapProtocolError(f"IMAP: UID SEARCH failed: {data!r}")
    # "n:*" also names the highest UID when it is below n: keep only the really new ones.
    uids = sorted(int(u) for u in (data[0] or b"").split() if int(u) > state.last_uid)
    stored = 0
    for uid in uids[:batch]:
        raw = _fetch_raw(client, uid)
        with transaction.atomic():
            if raw is not None:
                stored += len(email_raw_accept(asset=asset, raw=raw, uid=f"{uidvalidity}/{uid}"))
            MailboxState.objects.filter(
                pk=state.pk, uidvalidity=uidvalidity, last_uid__lt=uid
            ).update(last_uid=uid)
    MailboxState.objects.filter(pk=state.pk).update(checked_at=timezone.now(), error="")
    return stored


def mailbox_poll(asset) -> int:
    """One poll: log in, store what is new, log out. Errors are kept on the mailbox state."""
    from channels_app.models import MailboxState

    try:
        client = imap_login(asset)
        try:
            return mailbox_fetch_new(asset, client)
        finally:
            try:
                client.logout()
            except (OSError, imaplib.IMAP4.error):
                pass
    except (MailConnectionError, OSError, imaplib.IMAP4.error) as exc:
        reason = getattr(exc, "reason", None) or f"IMAP: {exc}"
        MailboxState.objects.update_or_create(
            asset=asset, defaults={"error": reason, "checked_at": timezone.now()}
        )
        logger.warning("mailbox of asset %s: %s", asset.uuid, reason)
        raise


def supports_idle(client: imaplib.IMAP4) -> bool:
    return "IDLE" in client.capabilities


def idle_wait(client: imaplib.IMAP4, *, timeout: float) -> bool:
    """RFC 2177 IDLE: waits up to `timeout` seconds for the server to announce a change.
    True when it did (a new mail, an expunge); False when the time ran out."""
    tag = client._new_tag()
    client.send(tag + b" IDLE\r\n")
    line = client.readline()
    if not line.startswith(b"+"):
        raise ImapProtocolError(f"IMAP: IDLE refused: {line!r}")
    sock = client.socket()
    pending = getattr(sock, "pending", lambda: 0)()
    readable = pending or select.select([sock], [], [], timeout)[0]
    news = False
    if readable:
        line = client.readline()
        news = bool(re.match(rb"\* \d+ (EXISTS|RECENT|EXPUNGE)", line)) or bool(line)
    client.send(b"DONE\r\n")
    while True:
        line = client.readline()
        if not line:
            raise ImapProtocolError("IMAP: the server closed the connection during IDLE")
        if line.startswith(tag):
            break
        if re.match(rb"\* \d+ (EXISTS|RECENT)", line):
            news = True
    return news


IDLE_SECONDS = 25 * 60  # RFC 2177: re-issue IDLE at least every 29 minutes
RETRY_SECONDS = 30


def mailbox_watch(asset_id: int, *, stop, poll_seconds: float, idle_seconds: float = IDLE_SECONDS):
    """Keeps one mailbox's intake going until `stop` is set: IDLE where the server offers it, a
    poll every `poll_seconds` otherwise; a lost connection is opened again after a pause."""
    from django.db import close_old_connections

    from channels_app.models import ChannelAsset

    while not stop.is_set():
        close_old_connections()
        asset = ChannelAsset.objects.filter(pk=asset_id).first()
        if asset is None or not asset.imap_host:
            return
        try:
            client = imap_login(asset)
        except MailConnectionError as exc:
            logger.warning("mailbox of asset %s: %s", asset.uuid, exc.reason)
            stop.wait(RETRY_SECONDS)
            continue
        try:
            idle = supports_idle(client)
            while not stop.is_set():
                mailbox_fetch_new(asset, client)
                close_old_connections()
                if idle:
                    # Short waits, so a stop request is seen soon.
                    idle_wait(client, timeout=min(idle_seconds, 5.0))
                else:
                    stop.wait(poll_seconds)
                    client.noop()
        except (MailConnectionError, OSError, imaplib.IMAP4.error) as exc:
            logger.warning("mailbox of asset %s: %s; connecting again", asset.uuid, exc)
            stop.wait(1)
        finally:
            try:
                client.logout()
            except (OSError, imaplib.IMAP4.error):
                pass
