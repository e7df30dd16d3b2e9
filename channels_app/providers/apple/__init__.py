"""Apple Messages for Business, the messaging service provider (MSP) side of Apple's REST API."""

from channels_app.providers.apple.provider import PROVIDER

__all__ = ["PROVIDER"]
