from django.core.exceptions import ValidationError


class RoutingError(ValidationError):
    """A routing action that cannot happen now (an offer that expired, a state change not allowed).

    A ValidationError, so callers handle it like any other bad input: a clear 4xx with its message.
    """

    def __init__(self, message: str, code: str = "routing") -> None:
        super().__init__(message, code=code)
