from django.apps import AppConfig


class ChannelsAppConfig(AppConfig):
    name = "channels_app"
    verbose_name = "Channels"

    def ready(self) -> None:
        from channels_app import asset_warnings
        from channels_app.services.email import email_mailbox_warnings

        asset_warnings.register(email_mailbox_warnings)
