"""What WhatsApp Cloud API and Messenger share: Meta's verification handshake and signature."""

import hashlib
import hmac

from django.http import HttpRequest, HttpResponse, HttpResponseForbidden

from config.outbound import OutboundResponse

GRAPH_API_BASE_URL = "https://graph.facebook.com/v21.0"


def handshake(request: HttpRequest, asset) -> HttpResponse:
    mode = request.GET.get("hub.mode", "")
    token = request.GET.get("hub.verify_token", "")
    challenge = request.GET.get("hub.challenge", "")
    if (
        mode == "subscribe"
        and asset.verify_token
        and hmac.compare_digest(token.encode(), asset.verify_token.encode())
    ):
        return HttpResponse(challenge, content_type="text/plain")
    return HttpResponseForbidden("verification failed", content_type="text/plain")


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(request: HttpRequest, asset) -> bool:
    header = request.headers.get("X-Hub-Signature-256", "")
    if not asset.app_secret or not header.startswith("sha256="):
        return False
    return hmac.compare_digest(
        header.lower().encode(), sign(asset.app_secret, request.body).encode()
    )


def graph_error_reason(response: OutboundResponse) -> str:
    error = response.json()["error"]
    details = (error.get("error_data") or {}).get("details", "")
    text = error.get("message", "")
    if details and details not in text:
        text = f"{text} ({details})"
    return f"{text} [code {error.get('code', '?')}]"
