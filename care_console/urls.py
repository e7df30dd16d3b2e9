from django.urls import path, re_path

from care_console import canned, views

urlpatterns = [
    path("care/", views.live_page, name="care-home"),
    path("care/live/state/", views.live_state, name="care-live-state"),
    path("care/transcripts/", views.transcripts_page, name="care-transcripts"),
    re_path(
        r"^care/transcripts/export\.(?P<fmt>csv|json|pdf)$",
        views.transcripts_export,
        name="care-transcripts-export",
    ),
    path(
        "care/conversations/<int:conversation_id>/",
        views.conversation_page,
        name="care-conversation",
    ),
    path(
        "care/conversations/<int:conversation_id>/messages/",
        views.conversation_messages,
        name="care-conversation-messages",
    ),
    re_path(
        r"^care/conversations/(?P<conversation_id>[0-9]+)/export\.(?P<fmt>csv|json|pdf)$",
        views.conversation_export,
        name="care-conversation-export",
    ),
    path(
        "care/conversations/<int:conversation_id>/takeover/",
        views.conversation_takeover,
        name="care-takeover",
    ),
    path(
        "care/conversations/<int:conversation_id>/transfer/",
        views.conversation_transfer,
        name="care-transfer",
    ),
    path(
        "care/attachments/<int:attachment_id>/",
        views.attachment_download,
        name="care-attachment",
    ),
    path("care/reports/", views.reports_page, name="care-reports"),
    path("care/canned/", canned.canned_list, name="care-canned"),
    path("care/canned/<int:response_id>/", canned.canned_edit, name="care-canned-edit"),
    path("care/canned/<int:response_id>/delete/", canned.canned_delete, name="care-canned-delete"),
    path("care/reports/<slug:name>.json", views.report_data, name="care-report-data"),
    path("care/reports/<slug:name>.csv", views.report_csv, name="care-report-csv"),
]
