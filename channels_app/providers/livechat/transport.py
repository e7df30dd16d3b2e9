"""Outbound live chat: an agent's reply is pushed to the visitor's socket group. The message is
stored first, so a visitor who was offline reads it on reconnect (the database is the truth)."""

from channels_app.providers.base import Media, MediaRef, PermanentSendError, SendResult
from tenants.realtime import send_event_on_commit


def visitor_group(visitor: str) -> str:
    return f"livechat.{visitor}"


def message_frame(message) -> dict:
    author = ""
    if message.author_agent_id:
        agent = message.author_agent
        author = str(getattr(agent, "display_name", "") or agent)
    return {
        "id": message.pk,
        "direction": message.direction,
        "text": message.text,
        "author": author,
        "at": (message.sent_at or message.created_at).isoformat(),
        "client_id": message.provider_message_id.split(":", 1)[-1]
        if message.direction == "in"
        else "",
        "status": message.status,
    }


class LiveChatTransport:
    def __init__(self, asset):
        self.asset = asset

    def send(self, *, message, to: str, idempotency_key: str) -> SendResult:
        frame = message_frame(message)
        frame["status"] = "sent"
        send_event_on_commit(groups=[visitor_group(to)], event="message", payload=frame)
        return SendResult(provider_message_id=f"out:{message.pk}")

    def mark_read(self, *, message) -> None:
        send_event_on_commit(
            groups=[visitor_group(message.conversation.identity.address)],
            event="read",
            payload={"id": message.pk},
        )

    def download(self, *, ref: MediaRef) -> Media:
        raise PermanentSendError("live-chat files arrive through the attachments upload")
