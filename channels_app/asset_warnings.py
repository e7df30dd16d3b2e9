"""What an admin should know about a channel asset that channels_app cannot see by itself.

Apps further down the dependency chain (routing: entry points, flows, queues) register a source
here from their AppConfig.ready; channels_app never imports them.
"""

from collections.abc import Callable

from channels_app.models import ChannelAsset

_sources: list[Callable[[ChannelAsset], list[str]]] = []


def register(source: Callable[[ChannelAsset], list[str]]) -> None:
    if source not in _sources:
        _sources.append(source)


def asset_warnings(asset: ChannelAsset) -> list[str]:
    return [warning for source in _sources for warning in source(asset)]
