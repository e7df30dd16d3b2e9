"""Setting up an email asset: the address and a mailbox (IMAP + SMTP) or a mail service's webhook;
passwords and the signing key are write-only and masked; other tenants see none of it."""

import pytest

from channels_app.models import ChannelAsset
from tests.tenants.test_admin_login import sign_in

pytestmark = pytest.mark.django_db

MAILBOX = {
    "kind": "email",
    "name": "Support mail",
    "email_address": "support@acme.test",
    "email_intake": "imap",
    "imap_host": "imap.acme.test",
    "imap_security": "tls",
    "imap_user": "support@acme.test",
    "imap_password": "imap-secret-9876",
    "smtp_host": "smtp.acme.test",
    "smtp_security": "starttls",
    "smtp_user": "support@acme.test",
    "smtp_password": "smtp-secret-5432",
}


def test_an_owner_creates_a_mailbox_asset_and_reads_its_secrets_masked(api_as, owner, tenant):
    created = api_as(owner).post(
        "/api/v1/channel-assets/", {"tenant": tenant.pk, **MAILBOX}, format="json"
    )

    assert created.status_code == 201, created.json()
    body = created.json()
    assert "imap_password" not in body and "smtp_password" not in body
    assert body["secrets"]["imap_password"] == "••••••••9876"
    assert body["webhook_url"].endswith(f"/webhooks/email/{body['uuid']}/")
    asset = ChannelAsset.objects.get()
    assert asset.imap_password == "imap-secret-9876"
    assert asset.email_address == "support@acme.test"


def test_a_mailbox_without_its_login_is_refused_with_the_missing_fields(api_as, owner, tenant):
    incomplete = {**MAILBOX, "imap_password": "", "smtp_host": ""}

    response = api_as(owner).post(
        "/api/v1/channel-assets/", {"tenant": tenant.pk, **incomplete}, format="json"
    )

    assert response.status_code == 400
    errors = response.json()
    assert "required for an email asset fed by" in errors["imap_password"][0]
    assert "smtp_host" in errors
    assert not ChannelAsset.objects.exists()


def test_a_webhook_asset_needs_its_signing_key_and_a_way_out(api_as, owner, tenant):
    response = api_as(owner).post(
        "/api/v1/channel-assets/",
        {
            "tenant": tenant.pk,
            "kind": "email",
            "name": "Mail service",
            "email_address": "hello@acme.test",
            "email_intake": "webhook",
        },
        format="json",
    )

    assert response.status_code == 400
    assert "email_signing_key" in response.json()
    assert "SMTP" in response.json()["smtp_host"][0]


def test_a_host_with_a_scheme_is_refused_with_the_reason(api_as, owner, tenant):
    response = api_as(owner).post(
        "/api/v1/channel-assets/",
        {"tenant": tenant.pk, **MAILBOX, "imap_host": "imaps://imap.acme.test"},
        format="json",
    )

    assert response.status_code == 400
    assert "without scheme or port" in response.json()["imap_host"][0]


def test_one_address_belongs_to_one_asset(api_as, owner, tenant):
    api_as(owner).post("/api/v1/channel-assets/", {"tenant": tenant.pk, **MAILBOX}, format="json")

    again = api_as(owner).post(
        "/api/v1/channel-assets/",
        {"tenant": tenant.pk, **MAILBOX, "name": "Second"},
        format="json",
    )

    assert again.status_code == 400
    assert ChannelAsset.objects.count() == 1


def test_the_console_page_shows_mail_secrets_masked_only(client, owner, tenant, api_as):
    api_as(owner).post("/api/v1/channel-assets/", {"tenant": tenant.pk, **MAILBOX}, format="json")
    asset = ChannelAsset.objects.get()
    sign_in(client, owner.email)

    page = client.get(f"/admin/channels_app/channelasset/{asset.pk}/change/").content.decode()

    assert "••••••••9876" in page and "••••••••5432" in page
    assert "imap-secret" not in page and "smtp-secret" not in page
    assert "imap.acme.test" in page


def test_an_outsider_neither_reads_nor_tests_the_mailbox(api_as, owner, outsider, tenant, client):
    api_as(owner).post("/api/v1/channel-assets/", {"tenant": tenant.pk, **MAILBOX}, format="json")
    asset = ChannelAsset.objects.get()

    assert api_as(outsider).get(f"/api/v1/channel-assets/{asset.pk}/").status_code == 404
    sign_in(client, outsider.email)
    page = client.get(f"/admin/channels_app/channelasset/{asset.pk}/change/")
    assert page.status_code in (302, 404)


def test_an_email_asset_is_created_in_the_console(client, owner, tenant):
    from tests.channels_app.test_asset_setup import BLANK

    sign_in(client, owner.email)

    response = client.post(
        "/admin/channels_app/channelasset/add/",
        {**BLANK, **MAILBOX, "imap_port": "", "smtp_port": "", "imap_folder": "INBOX"},
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    asset = ChannelAsset.objects.get()
    assert (asset.kind, asset.tenant) == ("email", tenant)
    assert asset.smtp_password == "smtp-secret-5432"
