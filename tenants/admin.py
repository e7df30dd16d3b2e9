"""Admin console pages for tenants, people and agent setup."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet

from tenants import services
from tenants.access import tenants_for_user, user_can
from tenants.admin_site import ReadOnlyAdminMixin, TenantScopedAdmin, console_site
from tenants.models import (
    Agent,
    IdleCode,
    Invitation,
    Membership,
    MultimediaProfile,
    RoleChange,
    Site,
    Team,
    Tenant,
    TenantPolicy,
    WrapUpCode,
)
from tenants.roles import AdminRole, CareProfile, ConnectRole


@admin.register(Tenant, site=console_site)
class TenantAdmin(admin.ModelAdmin):
    """The current tenant, and for partner admins the customer tenants they manage."""

    list_display = ["name", "kind", "partner", "created_at"]
    readonly_fields = ["kind", "partner", "uuid", "created_at"]
    fields = ["name", "slug", "kind", "partner", "uuid", "created_at"]

    def get_queryset(self, request) -> QuerySet[Tenant]:
        return tenants_for_user(user=request.user, object_type="tenant").select_related("partner")

    def has_module_permission(self, request) -> bool:
        return tenants_for_user(user=request.user, object_type="tenant").exists()

    def has_view_permission(self, request, obj=None) -> bool:
        if obj is None:
            return self.has_module_permission(request)
        return user_can(user=request.user, tenant=obj, object_type="tenant")

    def has_change_permission(self, request, obj=None) -> bool:
        tenant = obj or getattr(request, "tenant", None)
        return tenant is not None and user_can(
            user=request.user, tenant=tenant, object_type="tenant", action="change"
        )

    def has_add_permission(self, request) -> bool:
        return False  # tenants are provisioned, not created from a tenant's console

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(TenantPolicy, site=console_site)
class TenantPolicyAdmin(TenantScopedAdmin):
    object_type = "tenant_policy"
    list_display = [
        "tenant",
        "rona_chat_seconds",
        "rona_email_seconds",
        "rona_social_seconds",
        "inactivity_close_minutes",
        "transcript_retention_days",
    ]

    def has_add_permission(self, request) -> bool:
        return False  # one per tenant, created with it

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Membership, site=console_site)
class MembershipAdmin(TenantScopedAdmin):
    """Roles change through the services so the role tables keep both roles in step."""

    object_type = "membership"
    list_display = ["user", "admin_role", "connect_role", "care_profile", "created_at"]
    list_filter = ["admin_role", "connect_role", "care_profile"]
    search_fields = ["user__email", "user__full_name"]
    fields = ["user", "admin_role", "connect_role", "care_profile"]
    readonly_fields = ["user"]

    def has_add_permission(self, request) -> bool:
        return False  # people join through invitations

    def save_model(self, request, obj, form, change):
        changed = set(form.changed_data)
        actor = request.user
        # The form already wrote the new values onto obj; the services compare with the stored row.
        wanted = {
            name: getattr(obj, name) for name in ("admin_role", "connect_role", "care_profile")
        }
        obj.refresh_from_db()
        try:
            if "admin_role" in changed:
                services.membership_set_admin_role(
                    membership=obj, admin_role=wanted["admin_role"], actor=actor
                )
            elif "connect_role" in changed:
                services.membership_set_connect_role(
                    membership=obj, connect_role=wanted["connect_role"], actor=actor
                )
            if "care_profile" in changed:
                services.membership_set_care_profile(
                    membership=obj, care_profile=wanted["care_profile"], actor=actor
                )
        except (ValidationError, PermissionDenied) as exc:
            reasons = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
            messages.error(request, "; ".join(reasons))
            obj.refresh_from_db()

    def delete_model(self, request, obj):
        self._delete(request, obj)

    def delete_queryset(self, request, queryset):
        for membership in queryset:
            self._delete(request, membership)

    def _delete(self, request, membership: Membership) -> None:
        try:
            services.membership_delete(membership=membership, actor=request.user)
        except (ValidationError, PermissionDenied) as exc:
            reasons = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
            messages.error(request, f"{membership.user}: {'; '.join(reasons)}")


@admin.register(RoleChange, site=console_site)
class RoleChangeAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    """The audit trail of role changes: read-only."""

    object_type = "membership"
    list_display = [
        "at",
        "user_email",
        "action",
        "admin_role_before",
        "admin_role_after",
        "connect_role_after",
        "care_profile_after",
        "changed_by_email",
    ]
    list_filter = ["action"]
    search_fields = ["user_email", "changed_by_email"]
    readonly_fields = [
        "at",
        "user_email",
        "changed_by_email",
        "action",
        "admin_role_before",
        "admin_role_after",
        "connect_role_before",
        "connect_role_after",
        "care_profile_before",
        "care_profile_after",
    ]
    fields = readonly_fields


class InvitationForm(forms.ModelForm):
    """Checks the invitation as the service will, so problems show beside the fields."""

    tenant = None  # set per request by InvitationAdmin.get_form
    actor = None

    class Meta:
        model = Invitation
        fields = [
            "email",
            "admin_role",
            "connect_role",
            "care_profile",
            "team",
            "site",
            "multimedia_profile",
        ]

    def clean(self):
        data = super().clean()
        if self.tenant is None or self.errors:
            return data
        if self.actor is not None and data.get("admin_role"):
            try:
                services.role_grant_check(
                    actor=self.actor, tenant=self.tenant, admin_role=data["admin_role"]
                )
            except PermissionDenied as exc:
                self.add_error("admin_role", str(exc))
                return data
        try:
            self.terms = services.invitation_check(tenant=self.tenant, **_invitation_roles(data))
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, errors in exc.error_dict.items():
                    self.add_error(field if field in self.fields else None, errors)
            else:
                self.add_error(None, exc)
        return data


def _invitation_roles(data: dict) -> dict:
    """The form's choices as the service takes them: a role left at "none" is not given."""
    return {
        "email": data.get("email") or "",
        "admin_role": data.get("admin_role") if data.get("admin_role") != AdminRole.NONE else None,
        "connect_role": (
            data.get("connect_role") if data.get("connect_role") != ConnectRole.NONE else None
        ),
        "care_profile": data.get("care_profile") or CareProfile.NONE,
        "team": data.get("team"),
        "site": data.get("site"),
        "multimedia_profile": data.get("multimedia_profile"),
    }


@admin.register(Invitation, site=console_site)
class InvitationAdmin(TenantScopedAdmin):
    object_type = "invitation"
    form = InvitationForm
    list_display = ["email", "admin_role", "connect_role", "care_profile", "status", "expires_at"]
    fields = [
        "email",
        "admin_role",
        "connect_role",
        "care_profile",
        "team",
        "site",
        "multimedia_profile",
    ]
    actions = ["reissue"]

    def get_readonly_fields(self, request, obj=None):
        return self.fields if obj is not None else []

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(
            form.__name__, (form,), {"tenant": self._tenant(request), "actor": request.user}
        )

    def save_model(self, request, obj, form, change):
        if change:
            return
        try:
            created = services.invitation_create(
                tenant=self._tenant(request),
                invited_by=request.user,
                **_invitation_roles(form.cleaned_data),
            )
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
            return
        except PermissionDenied as exc:
            messages.error(request, str(exc))
            return
        obj.pk, obj.tenant = created.pk, created.tenant

    @admin.action(description="Re-issue the invitation (new link, valid for 7 more days)")
    def reissue(self, request, queryset):
        if not self._can(request, "change"):
            messages.error(request, "You may not change invitations in this tenant.")
            return
        for invitation in queryset:
            try:
                services.invitation_reissue(invitation=invitation, actor=request.user)
            except ValidationError as exc:
                messages.error(request, f"{invitation.email}: {'; '.join(exc.messages)}")
            except PermissionDenied as exc:
                messages.error(request, f"{invitation.email}: {exc}")
            else:
                messages.success(request, f"Sent a new invitation to {invitation.email}.")


@admin.register(MultimediaProfile, site=console_site)
class MultimediaProfileAdmin(TenantScopedAdmin):
    object_type = "multimedia_profile"
    list_display = ["name", "max_chat", "max_email", "max_social", "blending"]


@admin.register(Site, site=console_site)
class SiteAdmin(TenantScopedAdmin):
    object_type = "site"
    list_display = ["name", "multimedia_profile"]


@admin.register(Team, site=console_site)
class TeamAdmin(TenantScopedAdmin):
    object_type = "team"
    list_display = ["name", "site"]


@admin.register(Agent, site=console_site)
class AgentAdmin(TenantScopedAdmin):
    object_type = "agent"
    list_display = ["__str__", "user", "team", "site", "multimedia_profile"]
    list_select_related = ["user", "team", "site", "multimedia_profile"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user" and self._tenant(request) is not None:
            kwargs["queryset"] = db_field.related_model.objects.filter(
                memberships__tenant=self._tenant(request), memberships__care_profile="agent"
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(IdleCode, site=console_site)
class IdleCodeAdmin(TenantScopedAdmin):
    object_type = "idle_code"
    list_display = ["name"]


@admin.register(WrapUpCode, site=console_site)
class WrapUpCodeAdmin(TenantScopedAdmin):
    object_type = "wrap_up_code"
    list_display = ["name"]
