"""The widget's HTTP side: the script, the visitor's session and messages (the REST fallback of
the socket), the transcript request, and the demo page. Every endpoint checks the caller's origin
against the widget's allowed origins and answers CORS for those only."""

import json
from functools import lru_cache, wraps
from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
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
    def wrapper(request: HttpRequest, widget_id, **kwargs):
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
        if request.method == "POST" and request.content_type == "multipart/form-data":
            data = {key: request.POST.get(key) for key in request.POST}
            data["_files"] = request.FILES
        elif request.method == "POST":
            try:
                data = json.loads(request.body or b"{}")
            except ValueError:
                return _cors(JsonResponse({"error": "the body must be JSON"}, status=400), origin)
            if not isinstance(data, dict):
                return _cors(
                    JsonResponse({"error": "the body must be an object"}, status=400), origin
                )
        try:
            result = view(request, widget, data, **kwargs)
        except services.VisitorRefused as exc:
            return _cors(JsonResponse({"error": exc.reason}, status=exc.status), origin)
        if isinstance(result, HttpResponseBase):
            return _cors(result, origin)
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
        fields=data.get("fields"),
    )


@visitor_endpoint
def offline_message(request: HttpRequest, widget: ChatWidget, data: dict) -> dict:
    """ "Leave a message" while no agent is available: answered by email."""
    if request.method != "POST":
        raise services.VisitorRefused("POST a message", status=405)
    visitor = services.visitor_from_token(widget=widget, token=str(data.get("token") or ""))
    return services.visitor_offline_message(
        widget=widget,
        visitor=visitor,
        client_id=str(data.get("client_id") or ""),
        name=str(data.get("name") or ""),
        email=str(data.get("email") or ""),
        text=str(data.get("text") or ""),
        ip=_client_ip(request),
        fields=data.get("fields"),
    )


def _fields_of(raw) -> dict | None:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise services.VisitorRefused("the pre-chat answers must be JSON") from None


@visitor_endpoint
def upload(request: HttpRequest, widget: ChatWidget, data: dict) -> dict:
    """A visitor's file, as multipart form data: token, client_id, file (and name, fields)."""
    if request.method != "POST" or "_files" not in data:
        raise services.VisitorRefused("POST the file as multipart/form-data", status=405)
    visitor = services.visitor_from_token(widget=widget, token=str(data.get("token") or ""))
    sent = data["_files"].get("file")
    if sent is None:
        raise services.VisitorRefused("no file was sent")
    cap = services.upload_max_bytes(widget=widget)
    if sent.size > cap:
        # Refused before it is read.
        raise services.VisitorRefused(f"a file is at most {cap // 1024} KB", status=413)
    return services.visitor_file_post(
        widget=widget,
        visitor=visitor,
        client_id=str(data.get("client_id") or ""),
        data=sent.read(),
        filename=sent.name or "",
        name=str(data.get("name") or ""),
        ip=_client_ip(request),
        fields=_fields_of(data.get("fields")),
    )


@visitor_endpoint
def file_download(request: HttpRequest, widget: ChatWidget, data: dict, file_id: int):
    """One clean file of the visitor's conversations; the token in the body authorizes it (it
    never goes into a URL)."""
    from channels_app.media import attachment_file_response

    if request.method != "POST":
        raise services.VisitorRefused("POST the visitor token", status=405)
    visitor = services.visitor_from_token(widget=widget, token=str(data.get("token") or ""))
    attachment = services.visitor_attachment(widget=widget, visitor=visitor, attachment_id=file_id)
    response = attachment_file_response(attachment)
    response["Cache-Control"] = "private, no-store"
    return response


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
