from django.urls import include, path

from channels_app.livechat import views as livechat
from channels_app.outbound_media import outbound_media
from channels_app.webhooks import webhook

urlpatterns = [
    path("webhooks/<slug:kind>/<uuid:asset_uuid>/", webhook, name="channels-webhook"),
    # Apple posts to the registered URL with "/message" appended.
    path(
        "webhooks/apple/<uuid:asset_uuid>/message",
        webhook,
        {"kind": "apple"},
        name="channels-webhook-apple-message",
    ),
    path("media/out/<str:token>/", outbound_media, name="channels-outbound-media"),
    # Answers 404 unless settings.SANDBOX_PROVIDER is on.
    path("sandbox/provider/", include("channels_app.sandbox.urls")),
    path("livechat/demo/", livechat.demo, name="livechat-demo"),
    path("livechat/<uuid:widget_id>/widget.js", livechat.widget_script, name="livechat-widget"),
    path("livechat/<uuid:widget_id>/session", livechat.session, name="livechat-session"),
    path("livechat/<uuid:widget_id>/messages", livechat.messages, name="livechat-messages"),
    path("livechat/<uuid:widget_id>/transcript", livechat.transcript, name="livechat-transcript"),
    path("livechat/<uuid:widget_id>/offline", livechat.offline_message, name="livechat-offline"),
    path("livechat/<uuid:widget_id>/upload", livechat.upload, name="livechat-upload"),
    path(
        "livechat/<uuid:widget_id>/files/<int:file_id>",
        livechat.file_download,
        name="livechat-file",
    ),
]
