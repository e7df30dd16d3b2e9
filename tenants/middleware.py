from django.utils.functional import SimpleLazyObject

from tenants.selectors import tenant_current

SESSION_KEY = "current_tenant_id"


class CurrentTenantMiddleware:
    """Sets request.tenant: the tenant the user chose in the console, or their first one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.tenant = SimpleLazyObject(
            lambda: tenant_current(user=request.user, chosen_id=request.session.get(SESSION_KEY))
        )
        return self.get_response(request)
