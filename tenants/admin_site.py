"""The admin console: Django admin, scoped to the tenant the user is working in.

Every tenant-owned model registers with TenantScopedAdmin and names its object type from the
permission matrix; the console then shows, and lets the user change, only what the matrix allows
in the current tenant. Partner admins switch between their customer tenants at the top.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.utils import get_fields_from_path
from django.db.models import BooleanField
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from tenants.access import tenants_for_user, tenants_reachable, user_can
from tenants.api_filters import scope_related_to_tenants
from tenants.middleware import SESSION_KEY
from tenants.models import Tenant


def console_allowed(user) -> bool:
    """Superusers, and anyone the matrix lets view a tenant (its admins); is_staff is not asked."""
    if not (user.is_active and user.is_authenticated):
        return False
    return user.is_superuser or tenants_for_user(user=user, object_type="tenant").exists()


class ConsoleLoginForm(AdminAuthenticationForm):
    """Tenant admins sign in with their membership; Django's form would ask for is_staff."""

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "not_an_admin": (
            "This console is for tenant admins, and %(email)s has no admin role. "
            "Agents work at /desktop/; ask an admin of your tenant for an admin role."
        ),
    }

    def confirm_login_allowed(self, user) -> None:
        if not user.is_active:
            raise forms.ValidationError(self.error_messages["inactive"], code="inactive")
        if not console_allowed(user):
            raise forms.ValidationError(
                self.error_messages["not_an_admin"],
                code="not_an_admin",
                params={"email": user.email},
            )


class ConsoleAdminSite(admin.AdminSite):
    site_header = "Contact Center admin console"
    site_title = "Admin console"
    index_title = "Configuration"
    login_form = ConsoleLoginForm

    def has_permission(self, request) -> bool:
        user = request.user
        if not (user.is_active and user.is_authenticated):
            return False
        tenant = getattr(request, "tenant", None)
        return user.is_superuser or (
            tenant is not None and user_can(user=user, tenant=tenant, object_type="tenant")
        )

    def each_context(self, request):
        context = super().each_context(request)
        if request.user.is_authenticated:
            context["current_tenant"] = getattr(request, "tenant", None)
            context["switchable_tenants"] = list(
                tenants_reachable(user=request.user).order_by("name")
            )
        return context

    def get_urls(self):
        return [
            path(
                "switch-tenant/<int:tenant_id>/",
                self.admin_view(self.switch_tenant),
                name="switch_tenant",
            ),
            *super().get_urls(),
        ]

    def switch_tenant(self, request, tenant_id: int):
        tenant = get_object_or_404(tenants_reachable(user=request.user), pk=tenant_id)
        request.session[SESSION_KEY] = tenant.pk
        messages.info(request, f"Now working in {tenant.name}.")
        target = request.GET.get("next") or reverse("admin:index")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = reverse("admin:index")
        return HttpResponseRedirect(target)


console_site = ConsoleAdminSite(name="admin")


def _current_tenants(request):
    tenant = getattr(request, "tenant", None)
    return Tenant.objects.filter(pk=tenant.pk) if tenant is not None else Tenant.objects.none()


class TenantRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """ "By <related object>" lists the current tenant's objects only."""

    def field_choices(self, field, request, model_admin):
        queryset = scope_related_to_tenants(
            field.related_model._default_manager.all(), _current_tenants(request)
        )
        ordering = self.field_admin_ordering(field, request, model_admin)
        if ordering:
            queryset = queryset.order_by(*ordering)
        return [(obj.pk, str(obj)) for obj in queryset]


class TenantAllValuesFieldListFilter(admin.AllValuesFieldListFilter):
    """ "By <value>" offers the values found in the current tenant's rows only."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        self.lookup_choices = (
            model_admin.get_queryset(request)
            .order_by(field_path)
            .values_list(field_path, flat=True)
            .distinct()
        )


def tenant_scoped_list_filter(model, entry):
    """The list_filter entry with a tenant-scoped filter class wherever choices come from rows."""
    if not isinstance(entry, str):
        name, filter_class = entry if isinstance(entry, tuple) else (None, entry)
        if name is not None and filter_class in (
            admin.RelatedFieldListFilter,
            admin.RelatedOnlyFieldListFilter,
        ):
            return (name, TenantRelatedFieldListFilter)
        return entry
    field = get_fields_from_path(model, entry)[-1]
    if field.is_relation:
        return (entry, TenantRelatedFieldListFilter)
    if not field.choices and not isinstance(field, BooleanField):
        return (entry, TenantAllValuesFieldListFilter)
    return entry


class ReadOnlyAdminMixin:
    """Audit rows and records written by the system: shown, never added, changed or deleted."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class TenantScopedAdmin(admin.ModelAdmin):
    """Base for every tenant-owned model in the console."""

    object_type: str = ""
    tenant_field: str = "tenant"

    def _tenant(self, request):
        return getattr(request, "tenant", None)

    def _can(self, request, action: str) -> bool:
        tenant = self._tenant(request)
        return tenant is not None and user_can(
            user=request.user, tenant=tenant, object_type=self.object_type, action=action
        )

    def get_queryset(self, request):
        tenant = self._tenant(request)
        queryset = super().get_queryset(request)
        if tenant is None:
            return queryset.none()
        return queryset.filter(**{self.tenant_field: tenant})

    def has_module_permission(self, request) -> bool:
        return self._can(request, "view")

    def has_view_permission(self, request, obj=None) -> bool:
        return self._can(request, "view")

    def has_add_permission(self, request) -> bool:
        return self._can(request, "add")

    def has_change_permission(self, request, obj=None) -> bool:
        return self._can(request, "change")

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._can(request, "delete")

    def get_list_filter(self, request):
        return [
            tenant_scoped_list_filter(self.model, entry)
            for entry in super().get_list_filter(request)
        ]

    def get_exclude(self, request, obj=None):
        return [*(super().get_exclude(request, obj) or []), self.tenant_field]

    def save_model(self, request, obj, form, change):
        if not change and self.tenant_field == "tenant":
            obj.tenant = self._tenant(request)
        super().save_model(request, obj, form, change)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Choices for a related object come from the current tenant only.
        related = db_field.related_model
        tenant = self._tenant(request)
        if tenant is not None and any(f.name == "tenant" for f in related._meta.get_fields()):
            kwargs["queryset"] = related._default_manager.filter(tenant=tenant)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        related = db_field.related_model
        tenant = self._tenant(request)
        if tenant is not None and any(f.name == "tenant" for f in related._meta.get_fields()):
            kwargs["queryset"] = related._default_manager.filter(tenant=tenant)
        return super().formfield_for_manytomany(db_field, request, **kwargs)
