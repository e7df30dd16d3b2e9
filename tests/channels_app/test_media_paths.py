"""Attachment files are reachable only through the authorized downloads, never by their path."""

from django.core.files.base import ContentFile

from channels_app.models import Attachment
from tests.factories import MessageFactory


def test_a_clean_file_is_not_served_by_its_media_path(client, tenant, owner):
    message = MessageFactory(conversation__tenant=tenant)
    attachment = Attachment.objects.create(
        tenant=tenant,
        message=message,
        file=ContentFile(b"secret invoice", name="invoice.txt"),
        scan_status="clean",
    )
    client.force_login(owner)

    assert client.get(f"/media/{attachment.file.name}").status_code == 404
