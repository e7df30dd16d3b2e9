"""What routing does when channels_app announces something (subscribed in RoutingConfig.ready)."""

from routing.services import conversation_tasks_close


def on_conversation_closed(*, conversation_id: int, reason: str = "", **_: object) -> None:
    conversation_tasks_close(
        conversation_id=conversation_id, reason=reason or "conversation_closed"
    )
