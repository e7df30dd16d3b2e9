from django.urls import path

from routing.desktop import views

urlpatterns = [
    path("desktop/", views.desktop_page, name="desktop"),
    path("desktop/state/", views.desktop_state, name="desktop-state"),
    path("desktop/conversations/", views.conversation_list_view, name="desktop-conversation-list"),
    path(
        "desktop/conversations/<int:conversation_id>/",
        views.conversation_panel,
        name="desktop-conversation",
    ),
    path(
        "desktop/conversations/<int:conversation_id>/attachments/",
        views.attachment_upload,
        name="desktop-attachment-upload",
    ),
    path(
        "desktop/conversations/<int:conversation_id>/templates/",
        views.whatsapp_templates,
        name="desktop-whatsapp-templates",
    ),
    path(
        "desktop/conversations/<int:conversation_id>/email/",
        views.email_reply,
        name="desktop-email-reply",
    ),
    path(
        "desktop/messages/<int:message_id>/image/",
        views.email_remote_image,
        name="desktop-email-image",
    ),
    path(
        "desktop/attachments/<int:attachment_id>/",
        views.attachment_download,
        name="desktop-attachment",
    ),
]
