"""Every write of channels_app. Views, tasks, admin actions and commands call these."""

from channels_app.services.assets import channel_asset_create, channel_asset_update
from channels_app.services.conversations import (
    conversation_close,
    conversations_close_inactive,
    customer_identity_get_or_create,
    transcripts_purge_expired,
)
from channels_app.services.email import (
    email_connection_check,
    email_mailbox_poll,
    email_mailboxes_poll,
    email_raw_accept,
)
from channels_app.services.inbound import (
    inbound_dead_letter_store,
    inbound_event_process,
    inbound_event_replay,
    inbound_events_accept,
    inbound_events_requeue_stale,
    inbound_message_store,
    message_status_apply,
)
from channels_app.services.outbound import (
    SendRefused,
    message_deliver,
    message_mark_seen,
    message_read_receipt_send,
    message_send,
    message_send_file,
    messages_requeue_stale,
    whatsapp_window_open,
)
from channels_app.services.retention import retention_purge

__all__ = [
    "SendRefused",
    "channel_asset_create",
    "channel_asset_update",
    "conversation_close",
    "conversations_close_inactive",
    "customer_identity_get_or_create",
    "email_connection_check",
    "email_mailbox_poll",
    "email_mailboxes_poll",
    "email_raw_accept",
    "inbound_dead_letter_store",
    "inbound_event_process",
    "inbound_event_replay",
    "inbound_events_accept",
    "inbound_events_requeue_stale",
    "inbound_message_store",
    "message_deliver",
    "messages_requeue_stale",
    "message_mark_seen",
    "message_read_receipt_send",
    "message_send",
    "message_send_file",
    "message_status_apply",
    "retention_purge",
    "transcripts_purge_expired",
    "whatsapp_window_open",
]
