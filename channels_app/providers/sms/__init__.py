"""SMS in the Twilio format: signed form webhooks in, the Messages resource out."""

from channels_app.providers.sms.provider import PROVIDER

__all__ = ["PROVIDER"]
