"""Live chat: the website widget. Visitors post through our own endpoints (no provider webhook);
agents' replies go to the visitor's socket group."""

from channels_app.providers.livechat.provider import PROVIDER

__all__ = ["PROVIDER"]
