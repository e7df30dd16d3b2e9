from channels_app.providers.email.provider import PROVIDER

__all__ = ["PROVIDER"]
