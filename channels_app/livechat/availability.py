"""Whether a live-chat asset is staffed right now. routing answers (it registers a check from its
AppConfig.ready); channels_app never imports routing. With no check registered, chat is open."""

from collections.abc import Callable

_checks: list[Callable[..., bool]] = []


def register(check: Callable[..., bool]) -> None:
    """check(asset=...) -> True when an agent could take a new chat on that asset."""
    if check not in _checks:
        _checks.append(check)


def chat_staffed(*, asset) -> bool:
    return all(check(asset=asset) for check in _checks)
