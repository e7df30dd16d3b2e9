"""Watches every IMAP mailbox of every email asset: IDLE where offered, a poll otherwise.

Run one of these beside the workers (more would only fetch the same mails, stored once anyway).
Without it, the periodic poll (EMAIL_POLL_SECONDS) still brings mail in, only later."""

import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from channels_app.providers.email.imap import mailbox_watch
from channels_app.services.email import email_mailbox_assets

RESCAN_SECONDS = 60


class Command(BaseCommand):
    help = "Watch the IMAP mailboxes of the email assets (IDLE, or polling) and take mail in."

    def handle(self, *args, **options):
        stop = threading.Event()
        watchers: dict[int, threading.Thread] = {}
        try:
            while True:
                for asset_id in email_mailbox_assets().values_list("pk", flat=True):
                    if asset_id not in watchers or not watchers[asset_id].is_alive():
                        watchers[asset_id] = threading.Thread(
                            target=mailbox_watch,
                            args=(asset_id,),
                            kwargs={"stop": stop, "poll_seconds": settings.EMAIL_POLL_SECONDS},
                            name=f"mailbox-{asset_id}",
                            daemon=True,
                        )
                        watchers[asset_id].start()
                        self.stdout.write(f"watching the mailbox of asset {asset_id}")
                time.sleep(RESCAN_SECONDS)
        except KeyboardInterrupt:
            stop.set()
            for thread in watchers.values():
                thread.join(timeout=10)
