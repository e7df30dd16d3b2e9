"""WhatsApp Cloud API: signed webhooks in, /{phone-number-id}/messages out."""

from channels_app.providers.whatsapp.provider import PROVIDER

__all__ = ["PROVIDER"]
