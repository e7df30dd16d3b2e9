from django.contrib import admin

from care_console.models import SupervisorScope
from tenants.admin_site import TenantScopedAdmin, console_site
from tenants.models import User
from tenants.roles import CareProfile


@admin.register(SupervisorScope, site=console_site)
class SupervisorScopeAdmin(TenantScopedAdmin):
    """Which teams and queues a supervisor sees in the care console (admins manage memberships)."""

    object_type = "membership"
    list_display = ["user", "created_at"]
    filter_horizontal = ["teams", "queues"]
    readonly_fields = ["created_at"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            tenant = self._tenant(request)
            kwargs["queryset"] = User.objects.filter(
                memberships__tenant=tenant, memberships__care_profile=CareProfile.SUPERVISOR
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
