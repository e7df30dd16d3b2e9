"""All REST endpoints under /api/v1/, one router so the schema shows them together."""

from rest_framework.routers import DefaultRouter

from channels_app.apis import register as register_channels
from routing.apis import register as register_routing
from routing.flows.apis import register as register_flows
from tenants.apis import register as register_tenants

router = DefaultRouter()
register_tenants(router)
register_channels(router)
register_routing(router)
register_flows(router)

urlpatterns = router.urls
