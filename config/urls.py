from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config.health import healthz
from tenants.admin_site import console_site
from tenants.apis import TokenObtainView
from tenants.views import home

urlpatterns = [
    path("", home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("admin/", console_site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file, which the CSP allows.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/auth/token/", TokenObtainView.as_view(), name="api-token"),
    path("api/v1/", include("config.api_urls")),
    path("", include("tenants.urls")),
    path("", include("channels_app.urls")),
    path("", include("routing.urls")),
    path("", include("routing.desktop.urls")),
    path("", include("care_console.urls")),
]
# Media files are never served by path (not even with DEBUG): only through the authorized
# downloads, which check the tenant, the permission and the scan.
