from rest_framework.routers import DefaultRouter


def register(router: DefaultRouter) -> None:
    """Adds this app's REST endpoints to /api/v1/."""
