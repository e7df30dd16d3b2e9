"""Routing in the admin console: configuration is editable; tasks and agent states are read-only."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction

from routing import services
from routing.models import (
    AgentSkillProfile,
    AgentState,
    CannedResponse,
    EntryPoint,
    Queue,
    Skill,
    SkillProfile,
    SkillProfileValue,
    Task,
    TaskEvent,
    TeamSkillProfile,
)
from routing.services.skills import COLUMN_BY_TYPE
from tenants.admin_site import ReadOnlyAdminMixin, TenantScopedAdmin, console_site


class TenantOnFormMixin:
    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        tenant = self._tenant(request)
        # clean() compares tenants: give the unsaved object its tenant before validation.
        form_init = form.__init__

        def init(this, *args, **kw):
            form_init(this, *args, **kw)
            if this.instance.tenant_id is None and tenant is not None:
                this.instance.tenant = tenant

        form.__init__ = init
        return form


@admin.register(EntryPoint, site=console_site)
class EntryPointAdmin(TenantOnFormMixin, TenantScopedAdmin):
    object_type = "entry_point"
    list_display = ["name", "channel_type", "social_channel_type", "asset", "flow"]
    list_filter = ["channel_type"]
    readonly_fields = ["created_at"]
    search_fields = ["name"]


@admin.register(Queue, site=console_site)
class QueueAdmin(TenantOnFormMixin, TenantScopedAdmin):
    object_type = "queue"
    list_display = [
        "name",
        "channel_type",
        "routing_type",
        "service_level_seconds",
        "service_level_target_percent",
        "max_time_in_queue_seconds",
        "overflow_queue",
        "default",
        "auto_accept_allowed",
    ]
    list_filter = ["channel_type", "routing_type"]
    filter_horizontal = ["teams"]
    readonly_fields = ["created_at"]
    search_fields = ["name"]


@admin.register(Skill, site=console_site)
class SkillAdmin(TenantScopedAdmin):
    object_type = "skill"
    list_display = ["name", "type", "enum_values"]
    list_filter = ["type"]
    search_fields = ["name"]


class SkillProfileValueForm(forms.ModelForm):
    class Meta:
        model = SkillProfileValue
        fields = ["skill", "int_value", "bool_value", "text_value"]

    def clean(self):
        data = super().clean()
        skill = data.get("skill")
        if skill is None:
            return data
        column = COLUMN_BY_TYPE[skill.type]
        try:
            value = services.skill_value_clean(skill=skill, value=data.get(column))
        except ValidationError as exc:
            raise forms.ValidationError({column: exc.messages}) from exc
        for name in ("int_value", "bool_value", "text_value"):
            data[name] = value if name == column else None
            setattr(self.instance, name, data[name])
        return data


class SkillProfileValueInline(admin.TabularInline):
    model = SkillProfileValue
    form = SkillProfileValueForm
    extra = 1
    fields = ["skill", "int_value", "bool_value", "text_value"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "skill":
            kwargs["queryset"] = Skill.objects.filter(tenant=getattr(request, "tenant", None))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _can(self, request):
        tenant = getattr(request, "tenant", None)
        from tenants.access import user_can

        return tenant is not None and user_can(
            user=request.user, tenant=tenant, object_type="skill_profile", action="change"
        )

    def has_add_permission(self, request, obj=None):
        return self._can(request)

    def has_change_permission(self, request, obj=None):
        return self._can(request)

    def has_delete_permission(self, request, obj=None):
        return self._can(request)

    def has_view_permission(self, request, obj=None):
        return getattr(request, "tenant", None) is not None


@admin.register(SkillProfile, site=console_site)
class SkillProfileAdmin(TenantScopedAdmin):
    object_type = "skill_profile"
    list_display = ["name"]
    search_fields = ["name"]
    inlines = [SkillProfileValueInline]

    def save_related(self, request, form, formsets, change):
        # Values are re-set through the service so each is checked against its skill type and the
        # agents' effective skills follow.
        super().save_related(request, form, formsets, change)
        profile = form.instance
        with transaction.atomic():
            values = {v.skill.name: v.value for v in profile.values.select_related("skill")}
            services.skill_profile_values_replace(profile=profile, values=values)


@admin.register(AgentSkillProfile, site=console_site)
class AgentSkillProfileAdmin(TenantScopedAdmin):
    object_type = "skill_profile"
    list_display = ["agent", "profile"]

    def save_model(self, request, obj, form, change):
        services.agent_skill_profile_set(agent=obj.agent, profile=obj.profile)

    def delete_model(self, request, obj):
        services.agent_skill_profile_set(agent=obj.agent, profile=None)


@admin.register(TeamSkillProfile, site=console_site)
class TeamSkillProfileAdmin(TenantScopedAdmin):
    object_type = "skill_profile"
    list_display = ["team", "profile"]

    def save_model(self, request, obj, form, change):
        services.team_skill_profile_set(team=obj.team, profile=obj.profile)

    def delete_model(self, request, obj):
        services.team_skill_profile_set(team=obj.team, profile=None)


class TaskEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = TaskEvent
    fields = ["at", "kind", "agent", "queue", "data"]
    readonly_fields = fields
    extra = 0

    def has_view_permission(self, request, obj=None):
        return True


@admin.register(Task, site=console_site)
class TaskAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    object_type = "task"
    list_display = ["id", "queue", "status", "priority", "enqueued_at", "agent"]
    list_filter = ["status", "queue"]
    list_select_related = ["queue", "agent"]
    inlines = [TaskEventInline]
    actions = ["close_tasks"]

    @admin.action(description="Close the selected tasks")
    def close_tasks(self, request, queryset):
        if not self._can(request, "change"):
            return
        for task in queryset.exclude(status="closed"):
            services.task_close(task=task, reason="closed_in_console")


@admin.register(AgentState, site=console_site)
class AgentStateAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    object_type = "agent"
    list_display = [
        "agent",
        "state",
        "idle_code",
        "state_since",
        "engaged_chat",
        "engaged_email",
        "engaged_social",
    ]
    list_filter = ["state"]
    list_select_related = ["agent", "idle_code"]


@admin.register(CannedResponse, site=console_site)
class CannedResponseAdmin(TenantOnFormMixin, TenantScopedAdmin):
    object_type = "canned_response"
    list_display = ("shortcut", "title", "team", "updated_at")
    list_filter = ("team",)
    search_fields = ("shortcut", "title", "text")
    fields = ("shortcut", "title", "team", "text")
