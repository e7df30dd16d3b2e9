from django.urls import path

from routing.desktop import customer_views, views

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
    # The customer panel and canned responses (routing/desktop/customer_views.py).
    path(
        "desktop/conversations/<int:conversation_id>/customer/",
        customer_views.customer_panel,
        name="desktop-customer",
    ),
    path(
        "desktop/conversations/<int:conversation_id>/customer/profile/",
        customer_views.customer_update,
        name="desktop-customer-update",
    ),
    path(
        "desktop/conversations/<int:conversation_id>/customer/history/<int:other_id>/",
        customer_views.history_transcript,
        name="desktop-customer-history",
    ),
    path(
        "desktop/conversations/<int:conversation_id>/customer/link/",
        customer_views.customer_link,
        name="desktop-customer-link",
    ),
    path(
        "desktop/conversations/<int:conversation_id>/customer/link/<int:merge_id>/undo/",
        customer_views.customer_link_undo,
        name="desktop-customer-link-undo",
    ),
    path(
        "desktop/conversations/<int:conversation_id>/canned/",
        customer_views.canned_responses,
        name="desktop-canned",
    ),
    path(
        "desktop/attachments/<int:attachment_id>/",
        views.attachment_download,
        name="desktop-attachment",
    ),
]
