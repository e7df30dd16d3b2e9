from django.urls import path, re_path

from channels_app.sandbox.views import fake_provider_view

urlpatterns = [
    path("", fake_provider_view, name="sandbox-provider"),
    re_path(r"^(?P<path>.+)$", fake_provider_view),
]
