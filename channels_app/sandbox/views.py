"""The fake provider mounted at /sandbox/provider/ (only with settings.SANDBOX_PROVIDER).

Async views without database access on the provider API paths, so the one-process demo can call
its own fake provider from a request that is still being answered. The pages that show what was
sent (every tenant's outbound messages) and the test controls are for staff only.
"""

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from channels_app.sandbox.fake_provider import SHARED

PREFIX = "/sandbox/provider"
STAFF_PATHS = {
    ("GET", "/"),
    ("GET", "/sent"),
    ("POST", "/_reset"),
    ("POST", "/_fail"),
    ("POST", "/_media"),
}


async def _is_staff(request: HttpRequest) -> bool:
    user = await request.auser()
    return bool(user.is_authenticated and user.is_active and user.is_staff)


@csrf_exempt
async def fake_provider_view(request: HttpRequest, path: str = "") -> HttpResponse:
    if not settings.SANDBOX_PROVIDER:
        raise Http404("The provider sandbox is off.")
    if (request.method, "/" + path.strip("/")) in STAFF_PATHS and not await _is_staff(request):
        return HttpResponse(
            "The provider sandbox pages are for staff: sign in as a staff user.",
            status=403,
            content_type="text/plain",
        )
    response = SHARED.handle(
        method=request.method,
        path=path,
        query=request.META.get("QUERY_STRING", ""),
        headers=dict(request.headers.items()),
        body=request.body,
        base_url=request.build_absolute_uri(PREFIX).rstrip("/"),
    )
    return HttpResponse(response.body, status=response.status, content_type=response.content_type)
