from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "routing"
    verbose_name = "Routing"

    def ready(self) -> None:
        from channels_app import asset_warnings
        from channels_app import events as channel_events
        from channels_app.livechat import availability as livechat_availability
        from routing import tasks  # noqa: F401  registers the sweep for beat and the embedded ticker
        from routing.handlers import on_conversation_closed
        from routing.selectors import asset_routing_warnings, chat_asset_staffed

        channel_events.subscribe(channel_events.CONVERSATION_CLOSED, on_conversation_closed)
        asset_warnings.register(asset_routing_warnings)
        livechat_availability.register(chat_asset_staffed)
