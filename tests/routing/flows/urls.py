"""The flows endpoints mounted as config/api_urls.py mounts them, for the API tests."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from routing.flows.apis import register

router = DefaultRouter()
register(router)

urlpatterns = [path("api/v1/", include(router.urls))]
