"""The fake provider mounted at /sandbox/provider/ (only with settings.SANDBOX_PROVIDER).

Async views without database access, so the one-process demo can call its own fake provider
from a request that is still being answered.
"""

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from channels_app.sandbox.fake_provider import SHARED

PREFIX = "/sandbox/provider"


@csrf_exempt
async def fake_provider_view(request: HttpRequest, path: str = "") -> HttpResponse:
    if not settings.SANDBOX_PROVIDER:
        raise Http404("The provider sandbox is off.")
    response = SHARED.handle(
        method=request.method,
        path=path,
        query=request.META.get("QUERY_STRING", ""),
        headers=dict(request.headers.items()),
        body=request.body,
        base_url=request.build_absolute_uri(PREFIX).rstrip("/"),
    )
    return HttpResponse(response.body, status=response.status, content_type=response.content_type)
