"""Outbound files a provider fetches from us (Twilio's MediaUrl): one signed, expiring,
unauthenticated URL per clean outbound attachment, and the view that serves it."""

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.views.decorators.http import require_GET

from channels_app.models import Attachment, Direction

SALT = "channels_app.outbound_media"
# Twilio fetches at once and retries for a while; a leaked link is dead after this.
MEDIA_URL_LIFETIME = timedelta(hours=2)

# The kinds of file a message is sent as, by detected content type.
MEDIA_KINDS = ("image", "audio", "video")


def media_kind(content_type: str) -> str:
    """image / audio / video by the type's family; every other file is a document."""
    family = content_type.split("/", 1)[0]
    return family if family in MEDIA_KINDS else "document"


def outbound_media_url(*, attachment: Attachment) -> str:
    token = signing.dumps({"a": attachment.pk, "t": attachment.tenant_id}, salt=SALT)
    path = reverse("channels-outbound-media", kwargs={"token": token})
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}{path}"


@require_GET
def outbound_media(request: HttpRequest, token: str):
    """The file of one clean outbound attachment, for whoever holds the unexpired link."""
    try:
        data = signing.loads(token, salt=SALT, max_age=MEDIA_URL_LIFETIME)
    except signing.BadSignature:
        raise Http404("No such file.") from None
    attachment = Attachment.objects.filter(
        pk=data.get("a"),
        tenant_id=data.get("t"),
        message__direction=Direction.OUTBOUND,
        scan_status=Attachment.ScanStatus.CLEAN,
    ).first()
    if attachment is None or not attachment.file:
        raise Http404("No such file.")
    from channels_app.media import attachment_file_response

    response = attachment_file_response(attachment)
    response["Cache-Control"] = "private, no-store"
    return response
