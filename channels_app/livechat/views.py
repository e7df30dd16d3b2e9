"""The widget's HTTP side: the script, the visitor's session and messages (the REST fallback of
the socket), the transcript request, and the demo page. Every endpoint checks the caller's origin
against the widget's allowed origins and answers CORS for those only."""

import json
from functools import lru_cache, wraps
from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from channels_app.livechat import services
from channels_app.models import ChannelKind, ChatWidget

WIDGET_JS = Path(settings.BASE_DIR) / "static" / "livechat" / "widget.js"


@lru_cache(maxsize=1)
def _widget_source() -> str:
    return WIDGET_JS.read_text()


def _client_ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _cors(response: HttpResponse, origin: str) -> HttpResponse:
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Content-Type"
        response["Access-Control-Max-Age"] = "600"
    response["Vary"] = "Origin"
    return response


def visitor_endpoint(view):
    """Finds the widget (404), checks the Origin (403), answers a preflight, parses JSON (400),
    and turns a VisitorRefused into its status and reason."""

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, widget_id):
        widget = services.widget_for(widget_id=widget_id)
        if widget is None:
            raise Http404("No such chat widget.")
        origin = request.headers.get("Origin", "")
        if not services.origin_allowed(widget=widget, origin=origin, host=request.get_host()):
            return JsonResponse(
                {"error": "this site is not allowed to use this chat widget"}, status=403
            )
        if request.method == "OPTIONS":
            return _cors(HttpResponse(status=204), origin)
        data: dict = {}
        if request.method == "POST":
            try:
                data = json.loads(request.body or b"{}")
            except ValueError:
                return _cors(JsonResponse({"error": "the body must be JSON"}, status=400), origin)
            if not isinstance(data, dict):
                return _cors(
                    JsonResponse({"error": "the body must be an object"}, status=400), origin
                )
        try:
            result = view(request, widget, data)
        except services.VisitorRefused as exc:
            return _cors(JsonResponse({"error": exc.reason}, status=exc.status), origin)
        return _cors(JsonResponse(result), origin)

    return wrapper


@visitor_endpoint
def session(request: HttpRequest, widget: ChatWidget, data: dict) -> dict:
    if request.method != "POST":
        raise services.VisitorRefused("POST a session", status=405)
    return services.visitor_session_start(
        widget=widget,
        token=str(data.get("token") or ""),
        user_id=str(data.get("user_id") or ""),
        signature=str(data.get("user_signature") or ""),
        ip=_client_ip(request),
    )


@visitor_endpoint
def messages(request: HttpRequest, widget: ChatWidget, data: dict) -> dict:
    if request.method == "GET":
        visitor = services.visitor_from_token(widget=widget, token=request.GET.get("token", ""))
        return {"messages": services.visitor_history(widget=widget, visitor=visitor)}
    visitor = services.visitor_from_token(widget=widget, token=str(data.get("token") or ""))
    return services.visitor_message_post(
        widget=widget,
        visitor=visitor,
        client_id=str(data.get("client_id") or ""),
        text=str(data.get("text") or ""),
        name=str(data.get("name") or ""),
        ip=_client_ip(request),
    )


@visitor_endpoint
def transcript(request: HttpRequest, widget: ChatWidget, data: dict) -> dict:
    if request.method != "POST":
        raise services.VisitorRefused("POST a transcript request", status=405)
    visitor = services.visitor_from_token(widget=widget, token=str(data.get("token") or ""))
    count = services.visitor_transcript_email(
        widget=widget, visitor=visitor, email=str(data.get("email") or "")
    )
    return {"sent": count}


def widget_script(request: HttpRequest, widget_id) -> HttpResponse:
    """The widget itself. A page on a site not in the allowed origins gets a 403 (browsers send
    the page's origin as the Referer of a script request)."""
    widget = services.widget_for(widget_id=widget_id)
    if widget is None:
        raise Http404("No such chat widget.")
    referer = request.headers.get("Referer", "")
    if referer:
        parts = urlparse(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
        if not services.origin_allowed(widget=widget, origin=origin, host=request.get_host()):
            return HttpResponse(
                "// this site is not allowed to embed this chat widget\n",
                status=403,
                content_type="text/javascript",
            )
    response = HttpResponse(_widget_source(), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


def demo(request: HttpRequest) -> HttpResponse:
    """A page with the widget of the first live-chat asset, to chat as a visitor."""
    widget = (
        ChatWidget.objects.filter(asset__kind=ChannelKind.CHAT)
        .select_related("asset")
        .order_by("id")
        .first()
    )
    if widget is None:
        raise Http404("No live-chat asset yet: run demo_seed or add one in the admin console.")
    return render(request, "livechat/demo.html", {"widget": widget})
