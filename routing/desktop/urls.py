from django.urls import path

from routing.desktop import views

urlpatterns = [
    path("desktop/", views.desktop_page, name="desktop"),
    path("desktop/state/", views.desktop_state, name="desktop-state"),
    path(
        "desktop/conversations/<int:conversation_id>/",
        views.conversation_panel,
        name="desktop-conversation",
    ),
    path(
        "desktop/attachments/<int:attachment_id>/",
        views.attachment_download,
        name="desktop-attachment",
    ),
]
