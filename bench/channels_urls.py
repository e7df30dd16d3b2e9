"""The project's URLs plus /bench/insert-one/: the baseline the webhook ingest is compared with."""

from django.db import connection
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config.urls import urlpatterns as project_urlpatterns


@csrf_exempt
def insert_one(request):
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_channels_row (body) VALUES (%s)", [request.body.decode()])
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("bench/insert-one/", insert_one), *project_urlpatterns]
