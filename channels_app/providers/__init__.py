"""One package per provider; the registry maps an asset's kind to its package's PROVIDER."""

import importlib
from types import ModuleType

PROVIDER_PACKAGES: dict[str, str] = {
    "whatsapp": "channels_app.providers.whatsapp",
    "messenger": "channels_app.providers.messenger",
    "sms": "channels_app.providers.sms",
    "email": "channels_app.providers.email",
    "apple": "channels_app.providers.apple",
    "chat": "channels_app.providers.livechat",
}


def provider_for(kind: str):
    """The provider object for a channel kind, or None when the kind has no webhook here yet."""
    package = PROVIDER_PACKAGES.get(kind)
    if package is None:
        return None
    module: ModuleType = importlib.import_module(package)
    return module.PROVIDER
