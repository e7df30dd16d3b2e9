from django.urls import include, path

from channels_app.outbound_media import outbound_media
from channels_app.webhooks import webhook

urlpatterns = [
    path("webhooks/<slug:kind>/<uuid:asset_uuid>/", webhook, name="channels-webhook"),
    path("media/out/<str:token>/", outbound_media, name="channels-outbound-media"),
    # Answers 404 unless settings.SANDBOX_PROVIDER is on.
    path("sandbox/provider/", include("channels_app.sandbox.urls")),
]
