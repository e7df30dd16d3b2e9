"""Facebook Messenger: signed page webhooks in, the Send API out."""

from channels_app.providers.messenger.provider import PROVIDER

__all__ = ["PROVIDER"]
