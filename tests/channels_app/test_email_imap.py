"""IMAP intake against the project's Dovecot: UID-based polling that neither loses nor repeats a
mail across restarts, IDLE where the server offers it, and the admin console's connection test."""

import threading

import pytest

from channels_app.models import Conversation, InboundEvent, MailboxState, Message
from channels_app.providers.email import imap
from channels_app.providers.email.connect import imap_login
from channels_app.services import email_connection_check, email_mailbox_poll
from tests.channels_app.email_support import mail


@pytest.fixture
def poll(django_capture_on_commit_callbacks):
    """One poll as the periodic task runs it, with the processing its commits queue."""

    def run(asset) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return email_mailbox_poll(asset=asset)

    return run


def test_a_polled_mail_is_stored_and_opens_a_conversation(poll, email_asset, mailbox):
    mailbox.append(mail(message_id="polled@example.org", text="Hi from IMAP"))

    assert poll(email_asset) == 1

    message = Message.objects.get()
    assert message.text == "Hi from IMAP"
    assert message.provider_message_id == "polled@example.org"
    state = MailboxState.objects.get(asset=email_asset)
    assert state.last_uid == 1 and state.uidvalidity > 0 and state.error == ""
    assert message.content["mailbox_uid"] == f"{state.uidvalidity}/1"


def test_a_restart_neither_loses_nor_repeats_a_mail(poll, email_asset, mailbox):
    mailbox.append(mail(message_id="one@example.org"))
    poll(email_asset)
    mailbox.append(mail(message_id="two@example.org"))
    mailbox.append(mail(message_id="three@example.org"))

    # A fresh process (new connection, state read from the database) picks up where it stopped.
    assert poll(email_asset) == 2
    assert poll(email_asset) == 0
    # A crash after storing but before the UID moved: the mails come again and stay single.
    MailboxState.objects.filter(asset=email_asset).update(last_uid=0)
    assert poll(email_asset) == 0

    assert sorted(Message.objects.values_list("provider_message_id", flat=True)) == [
        "one@example.org",
        "three@example.org",
        "two@example.org",
    ]
    assert InboundEvent.objects.count() == 3
    assert MailboxState.objects.get(asset=email_asset).last_uid == 3


def test_a_new_uidvalidity_reads_the_folder_again_without_repeats(poll, email_asset, mailbox):
    mailbox.append(mail(message_id="kept@example.org"))
    poll(email_asset)
    MailboxState.objects.filter(asset=email_asset).update(uidvalidity=1, last_uid=99)

    assert poll(email_asset) == 0

    state = MailboxState.objects.get(asset=email_asset)
    assert state.uidvalidity != 1 and state.last_uid == 1
    assert Message.objects.count() == 1


def test_an_auto_reply_in_the_mailbox_starts_nothing(poll, email_asset, mailbox):
    mailbox.append(mail(subject="Automatic reply", headers={"Auto-Submitted": "auto-replied"}))

    poll(email_asset)

    assert Conversation.objects.count() == 0
    assert InboundEvent.objects.get().status == InboundEvent.Status.IGNORED


def test_idle_wakes_up_when_a_mail_arrives(email_asset, mailbox):
    client = imap_login(email_asset)
    try:
        imap.mailbox_select(email_asset, client)
        assert imap.supports_idle(client)
        # The mail is delivered from another connection while we wait.
        sender = threading.Timer(0.3, mailbox.append, args=(mail(),))
        sender.start()
        woke = imap.idle_wait(client, timeout=20)
        sender.join()
    finally:
        client.logout()

    assert woke is True


def test_idle_times_out_quietly_when_nothing_arrives(email_asset, mailbox):
    client = imap_login(email_asset)
    try:
        imap.mailbox_select(email_asset, client)
        assert imap.idle_wait(client, timeout=0.2) is False
        # The connection is still good after DONE.
        assert client.noop()[0] == "OK"
    finally:
        client.logout()


def test_the_connection_test_says_both_servers_work(email_asset):
    results = email_connection_check(asset=email_asset)

    assert [(server, ok) for server, ok, _ in results] == [("IMAP", True), ("SMTP", True)]


def test_the_connection_test_says_what_failed(email_asset):
    email_asset.imap_password = "wrong"
    email_asset.smtp_port = 1  # nothing listens there

    results = {server: (ok, what) for server, ok, what in email_connection_check(asset=email_asset)}

    assert results["IMAP"][0] is False
    assert "refused the login" in results["IMAP"][1]
    assert results["SMTP"][0] is False
    assert "cannot connect" in results["SMTP"][1]


def test_a_private_mail_host_is_refused_unless_the_operator_allows_it(email_asset, settings):
    settings.OUTBOUND_ALLOWED_HOSTS = []

    results = dict((server, what) for server, _, what in email_connection_check(asset=email_asset))

    assert "loopback" in results["IMAP"] and "OUTBOUND_ALLOWED_HOSTS" in results["IMAP"]
    with pytest.raises(Exception) as failure:
        email_mailbox_poll(asset=email_asset)
    assert "loopback" in str(failure.value)
    assert "loopback" in MailboxState.objects.get(asset=email_asset).error


def test_the_admin_action_tests_the_connection_and_an_outsider_cannot(
    client, owner, outsider, email_asset
):
    client.force_login(owner)
    response = client.post(
        "/admin/channels_app/channelasset/",
        {"action": "test_mail_connection", "_selected_action": [email_asset.pk]},
        follow=True,
    )
    page = response.content.decode()
    assert "IMAP works" in page and "SMTP works" in page

    client.force_login(outsider)
    response = client.post(
        "/admin/channels_app/channelasset/",
        {"action": "test_mail_connection", "_selected_action": [email_asset.pk]},
        follow=True,
    )
    assert "IMAP works" not in response.content.decode()


def test_the_watcher_takes_in_a_mail_as_it_arrives(transactional_db, email_asset, mailbox):
    stop = threading.Event()
    watcher = threading.Thread(
        target=imap.mailbox_watch,
        args=(email_asset.pk,),
        # Short IDLE rounds, so the stop request ends the test soon.
        kwargs={"stop": stop, "poll_seconds": 60, "idle_seconds": 0.5},
        daemon=True,
    )
    watcher.start()
    try:
        mailbox.append(mail(message_id="live@example.org"))
        # Waits for the outcome (IDLE wakes the watcher); no timing is asserted.
        for _ in range(300):
            if Message.objects.filter(provider_message_id="live@example.org").exists():
                break
            threading.Event().wait(0.1)
    finally:
        stop.set()
        watcher.join(timeout=15)

    assert Message.objects.filter(provider_message_id="live@example.org").exists()
    assert not watcher.is_alive()


def test_the_asset_page_says_when_the_mailbox_could_not_be_read(client, owner, email_asset):
    email_asset.imap_password = "wrong"
    email_asset.save(update_fields=["imap_password"])
    with pytest.raises(Exception):
        email_mailbox_poll(asset=email_asset)
    client.force_login(owner)

    page = client.get(f"/admin/channels_app/channelasset/{email_asset.pk}/change/")

    assert "The mailbox could not be read" in page.content.decode()
    assert "refused the login" in page.content.decode()


@pytest.fixture
def trusted_test_certificate(monkeypatch):
    import os

    cert = os.environ.get("TEST_MAIL_TLS_CERT")
    if not cert:
        pytest.skip("no Dovecot: run the tests through scripts/test.sh")
    # The test Dovecot's self-signed certificate as the only CA this process trusts.
    monkeypatch.setenv("SSL_CERT_FILE", cert)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    return cert


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_imap_over_tls_checks_the_certificate_and_logs_in(
    email_asset, trusted_test_certificate, security
):
    import os

    email_asset.imap_security = security
    email_asset.imap_port = int(
        os.environ["TEST_IMAPS_PORT"] if security == "tls" else os.environ["TEST_IMAP_PORT"]
    )
    email_asset.smtp_host = ""

    assert email_connection_check(asset=email_asset)[0][:2] == ("IMAP", True)


def test_an_untrusted_certificate_is_refused_with_the_reason(email_asset, monkeypatch):
    import os

    if not os.environ.get("TEST_IMAPS_PORT"):
        pytest.skip("no Dovecot: run the tests through scripts/test.sh")
    email_asset.imap_security = "tls"
    email_asset.imap_port = int(os.environ["TEST_IMAPS_PORT"])
    email_asset.smtp_host = ""

    [(server, ok, what)] = email_connection_check(asset=email_asset)

    assert (server, ok) == ("IMAP", False)
    assert "certificate verify failed" in what
