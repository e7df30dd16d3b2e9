"""Email intake and mailbox checks: raw mails become the same raw inbound events as any webhook."""

import logging

from channels_app.models import ChannelAsset, ChannelKind, EmailIntake, MailboxState
from channels_app.providers.email import imap
from channels_app.providers.email.connect import MailConnectionError, connection_check
from channels_app.providers.email.provider import PROVIDER, raw_mail_piece
from channels_app.services.inbound import inbound_events_accept

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
