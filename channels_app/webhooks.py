"""The one webhook view every provider shares: /webhooks/<kind>/<asset-uuid>/.

Verify the signature (403), store the raw event once (400 + dead letter when it cannot be read),
queue processing after commit, answer 200. Nothing else happens while the provider waits.
"""

import logging

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from channels_app import selectors, services
from channels_app.providers import provider_for
from channels_app.providers.base import SHAPE_ERRORS, MalformedEvent, malformed_from

logger = logging.getLogger(__name__)


@csrf_exempt
def webhook(request: HttpRequest, kind: str, asset_uuid) -> HttpResponse:
    provider = provider_for(kind)
    asset = selectors.asset_for_webhook(kind=kind, uuid=asset_uuid) if provider else None
    if asset is None:
        raise Http404("No such channel asset.")
    if request.method == "GET":
        response = provider.handshake(request, asset)
        return response if response is not None else HttpResponseNotAllowed(["POST"])
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    if not provider.signature_valid(request, asset):
        logger.warning("%s webhook for asset %s: missing or wrong signature", kind, asset.uuid)
        return HttpResponse("invalid signature", status=403, content_type="text/plain")
    body = request.body
    try:
        split_request = getattr(provider, "split_request", None)  # needs the headers too
        split = (
            split_request(asset, request)
            if split_request
            else provider.split(asset, body, request.content_type)
        )
        for piece in split.pieces:
            # An id taken from the body may be any JSON value; only text keys a stored event.
            if not isinstance(piece.provider_event_id, str) or not piece.provider_event_id:
                raise MalformedEvent(f"event id {piece.provider_event_id!r:.80} is not text")
    except SHAPE_ERRORS as exc:
        if not isinstance(exc, MalformedEvent):
            # A parser that missed a shape: kept as a dead letter all the same, logged to be fixed.
            logger.exception("%s webhook for asset %s: parser failed", kind, asset.uuid)
        reason = str(malformed_from(exc))
        services.inbound_dead_letter_store(
            asset=asset, body=body, content_type=provider.content_type, reason=reason
        )
        return JsonResponse({"error": "malformed event", "reason": reason}, status=400)
    services.inbound_events_accept(
        asset=asset, pieces=split.pieces, content_type=provider.content_type
    )
    return HttpResponse(provider.acknowledgement, content_type=provider.acknowledgement_type)
