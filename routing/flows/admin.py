"""The admin console pages of flows and variables."""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from routing.flows import selectors, services
from routing.flows.diagram import flow_svg
from routing.flows.models import (
    BusinessCalendar,
    Flow,
    FlowRun,
    FlowRunStep,
    FlowVersion,
    GlobalVariable,
    NodeAuthorization,
)
from routing.flows.templates import template_list
from tenants.admin_site import TenantScopedAdmin, console_site


def _flow_view_context(definition: dict, highlight: list[str] | None = None) -> dict:
    return {
        "svg": mark_safe(flow_svg(definition, highlight)),  # noqa: S308 - escaped in flow_svg
        "json_text": json.dumps(definition, indent=2, ensure_ascii=False),
    }


def _diagram_and_json(definition: dict, highlight: list[str] | None = None) -> str:
    return render_to_string(
        "admin/flows/flow/_flow_view.html", _flow_view_context(definition, highlight)
    )


class FlowVersionInline(admin.TabularInline):
    model = FlowVersion
    extra = 0
    can_delete = False
    fields = (
        "number",
        "status",
        "note",
        "created_by",
        "created_at",
        "published_by",
        "published_at",
        "page",
    )
    readonly_fields = fields
    show_change_link = False

    @admin.display(description="JSON")
    def page(self, obj: FlowVersion):
        if obj.pk is None:
            return ""
        label = "edit" if obj.status == FlowVersion.Status.DRAFT else "view"
        url = reverse("admin:flows_flow_version", args=[obj.flow_id, obj.number])
        return format_html('<a href="{}">{}</a>', url, label)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ImportForm(forms.Form):
    template = forms.ChoiceField(
        required=False, help_text="A shipped template, or leave empty and upload a file."
    )
    file = forms.FileField(required=False, help_text="A flow file (JSON).")
    name = forms.CharField(
        required=False, max_length=120, help_text="Flow name; defaults to the file's name."
    )
    publish = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = [("", "---")] + [
            (name, f"{name} (v{versions[-1]})") for name, versions in template_list().items()
        ]

    def clean(self):
        data = super().clean()
        if bool(data.get("template")) == bool(data.get("file")):
            raise forms.ValidationError("Choose a template or upload a file (one of them).")
        return data


class DryRunForm(forms.Form):
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="The sample inbound message.",
    )
    replies = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="One customer reply per line, for the wait-for-reply nodes.",
    )
    variables = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text='Starting variables as a JSON object, e.g. {"language": "es"}.',
    )
    version = forms.IntegerField(
        required=False, help_text="Version number; empty means the newest."
    )
    real_http = forms.BooleanField(
        required=False,
        label="Make GET requests for real",
        help_text="HTTP nodes otherwise answer a simulated 200. Needs permission to change flows.",
    )

    def clean_variables(self):
        raw = self.cleaned_data.get("variables") or ""
        if not raw.strip():
            return {}
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise forms.ValidationError("Give a JSON object.")
        return value


@admin.register(Flow, site=console_site)
class FlowAdmin(TenantScopedAdmin):
    object_type = "flow"
    list_display = (
        "name",
        "kind",
        "current_version",
        "template_name",
        "template_version",
        "created_at",
    )
    list_filter = ("kind",)
    search_fields = ("name",)
    fields = ("name", "kind", "description", "template_name", "template_version")
    readonly_fields = ("kind", "template_name", "template_version")
    inlines = [FlowVersionInline]
    actions = ["publish_latest", "migrate_to_newest_template"]
    change_list_template = "admin/flows/flow/change_list.html"
    change_form_template = "admin/flows/flow/change_form.html"

    class Media:
        css = {"all": ("flows/flow_page.css",)}

    def current_version(self, obj: Flow):
        version = selectors.flow_version_current(flow=obj)
        return f"v{version.number}" if version else "unpublished"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # get_object answers None for a malformed or foreign id; the admin then says "not found".
        flow = self.get_object(request, object_id) if object_id else None
        version = selectors.flow_version_latest(flow=flow) if flow else None
        extra = {"flow_version": version}
        if version is not None:
            extra.update(_flow_view_context(version.definition))
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def get_urls(self):
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="flows_flow_import"),
            path(
                "<int:pk>/versions/<int:number>/",
                self.admin_site.admin_view(self.version_view),
                name="flows_flow_version",
            ),
            path(
                "<int:pk>/versions/<int:number>/new-draft/",
                self.admin_site.admin_view(self.new_draft_view),
                name="flows_flow_version_new_draft",
            ),
            path(
                "<int:pk>/dry-run/",
                self.admin_site.admin_view(self.dry_run_view),
                name="flows_flow_dry_run",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportForm(request.POST or None, request.FILES or None)
        problems = []
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                if data["template"]:
                    flow = services.flow_import_template(
                        tenant=request.tenant,
                        template_name=data["template"],
                        user=request.user,
                        name=data["name"] or None,
                        publish=data["publish"],
                    )
                else:
                    flow = services.flow_import(
                        tenant=request.tenant,
                        document=data["file"].read(),
                        user=request.user,
                        name=data["name"] or None,
                        publish=data["publish"],
                    ).flow
            except services.FlowValidationError as exc:
                problems = exc.problems
            except ValidationError as exc:
                problems = [{"path": "$", "message": message} for message in exc.messages]
            else:
                messages.success(request, f"Imported {flow.name}.")
                return HttpResponseRedirect(reverse("admin:flows_flow_change", args=[flow.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Import a flow",
            "form": form,
            "problems": problems,
            "opts": self.model._meta,
        }
        return render(request, "admin/flows/flow/import.html", context)

    def _version_for(self, request, pk: int, number: int) -> FlowVersion:
        # Another tenant's flow is as missing as one that does not exist.
        flow = self.get_queryset(request).filter(pk=pk).first()
        if flow is None or not self.has_view_permission(request, flow):
            raise Http404("No such flow.")
        version = flow.versions.filter(number=number).select_related("flow").first()
        if version is None:
            raise Http404("No such version.")
        return version

    def version_view(self, request, pk: int, number: int):
        """One version: a draft's JSON editable (by who may change flows), a published one
        read-only. A draft with problems is not saved; each problem is listed at its JSON path."""
        version = self._version_for(request, pk, number)
        flow = version.flow
        can_change = self.has_change_permission(request, flow)
        is_draft = version.status == FlowVersion.Status.DRAFT
        text = json.dumps(version.definition, indent=2, ensure_ascii=False)
        problems: list = []
        status = 200
        if request.method == "POST":
            if not can_change:
                raise PermissionDenied("You may view this flow but not change it.")
            text = request.POST.get("definition", "")
            if not is_draft:
                problems = [
                    {
                        "path": "$",
                        "message": f"version {version.number} is published and cannot change; "
                        "start a new draft from it instead",
                    }
                ]
                status = 409
            else:
                try:
                    services.flow_version_update(
                        version=version, definition=text, user=request.user
                    )
                except services.FlowValidationError as exc:
                    problems = [problem.as_dict() for problem in exc.problems]
                    status = 400
                except ValidationError as exc:
                    problems = [{"path": "$", "message": message} for message in exc.messages]
                    status = 409
                else:
                    messages.success(request, f"Saved the draft (version {version.number}).")
                    return HttpResponseRedirect(
                        reverse("admin:flows_flow_version", args=[flow.pk, version.number])
                    )
        context = {
            **self.admin_site.each_context(request),
            "title": f"{flow.name}: version {version.number} ({version.get_status_display()})",
            "flow": flow,
            "version": version,
            "editable": is_draft and can_change,
            "can_change": can_change,
            "text": text,
            "problems": problems,
            "opts": self.model._meta,
            **_flow_view_context(version.definition),
        }
        return render(request, "admin/flows/flow/version.html", context, status=status)

    def new_draft_view(self, request, pk: int, number: int):
        version = self._version_for(request, pk, number)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request, version.flow):
            raise PermissionDenied("You may view this flow but not change it.")
        draft = services.flow_version_create(
            flow=version.flow,
            definition=version.definition,
            user=request.user,
            note=f"draft from version {version.number}",
        )
        messages.success(request, f"Started version {draft.number} as a draft.")
        return HttpResponseRedirect(
            reverse("admin:flows_flow_version", args=[version.flow_id, draft.number])
        )

    def dry_run_view(self, request, pk: int):
        flow = self.get_queryset(request).filter(pk=pk).first()
        if flow is None:
            raise Http404("No such flow.")
        form = DryRunForm(request.POST or None)
        result, problems, version = None, [], selectors.flow_version_latest(flow=flow)
        if (
            request.method == "POST"
            and form.is_valid()
            and form.cleaned_data["real_http"]
            and not self.has_change_permission(request, flow)
        ):
            form.add_error("real_http", "You may not make real requests: you cannot change flows.")
        if request.method == "POST" and form.is_valid():
            number = form.cleaned_data.get("version")
            if number:
                version = flow.versions.filter(number=number).first()
            if version is None:
                problems = [{"path": "version", "message": "No such version."}]
            else:
                try:
                    result = services.flow_dry_run(
                        tenant=flow.tenant,
                        definition=version.definition,
                        text=form.cleaned_data["text"],
                        variables=form.cleaned_data["variables"],
                        replies=[
                            line
                            for line in form.cleaned_data["replies"].splitlines()
                            if line.strip()
                        ],
                        allow_http=form.cleaned_data["real_http"],
                    )
                except services.FlowValidationError as exc:
                    problems = exc.problems
        view = None
        if version is not None:
            view = _diagram_and_json(
                version.definition, [s["node"] for s in result["path"]] if result else None
            )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Dry run: {flow.name}",
            "flow": flow,
            "form": form,
            "result": result,
            "problems": problems,
            "view": view,
            "opts": self.model._meta,
            "result_json": json.dumps(result, indent=2, ensure_ascii=False) if result else "",
        }
        return render(request, "admin/flows/flow/dry_run.html", context)

    @admin.action(description="Publish the newest draft", permissions=["change"])
    def publish_latest(self, request, queryset):
        for flow in queryset:
            version = selectors.flow_version_latest(flow=flow)
            if version is None or version.status == FlowVersion.Status.PUBLISHED:
                continue
            try:
                services.flow_version_publish(version=version, user=request.user)
            except ValidationError as exc:
                for message in exc.messages:
                    self.message_user(request, f"{flow.name}: {message}", messages.ERROR)
            else:
                self.message_user(request, f"Published {flow.name} v{version.number}.")

    @admin.action(description="Migrate to the newest template version", permissions=["change"])
    def migrate_to_newest_template(self, request, queryset):
        for flow in queryset:
            try:
                result = services.flow_migrate(flow=flow, user=request.user)
            except ValidationError as exc:
                for message in exc.messages:
                    self.message_user(request, f"{flow.name}: {message}", messages.ERROR)
            else:
                kept = ", ".join(result.kept_settings) or "none"
                self.message_user(
                    request,
                    f"{flow.name}: now template v{result.to_template_version} "
                    f"(version {result.version.number}); kept settings: {kept}.",
                )


class FlowRunStepInline(admin.TabularInline):
    model = FlowRunStep
    extra = 0
    can_delete = False
    fields = (
        "seq",
        "node_id",
        "node_type",
        "path",
        "next_node",
        "error",
        "inputs",
        "outputs",
        "at",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(FlowRun, site=console_site)
class FlowRunAdmin(TenantScopedAdmin):
    # Steps hold what customers wrote: the same permission as transcripts.
    object_type = "conversation"

    class Media:
        css = {"all": ("flows/flow_page.css",)}

    list_display = (
        "id",
        "flow",
        "version_number",
        "conversation",
        "trigger",
        "status",
        "step_count",
        "started_at",
        "short_error",
    )
    list_filter = ("status", "trigger")
    list_select_related = ("flow", "flow_version", "conversation__customer")
    fields = (
        "flow",
        "flow_version",
        "conversation",
        "trigger",
        "status",
        "current_node",
        "due_at",
        "error",
        "started_at",
        "finished_at",
        "path_taken",
    )
    readonly_fields = fields
    inlines = [FlowRunStepInline]

    def version_number(self, obj: FlowRun) -> str:
        return f"v{obj.flow_version.number}"

    def short_error(self, obj: FlowRun) -> str:
        return obj.error[:80]

    @admin.display(description="Path taken")
    def path_taken(self, obj: FlowRun):
        entered = list(obj.steps.values_list("node_id", flat=True))
        return _diagram_and_json(obj.flow_version.definition, entered)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class GlobalVariableForm(forms.ModelForm):
    class Meta:
        model = GlobalVariable
        fields = (
            "name",
            "label",
            "type",
            "default",
            "description",
            "agent_visible",
            "agent_editable",
            "reportable",
        )

    def clean(self):
        data = super().clean()
        variable = GlobalVariable(**{key: data.get(key) for key in self.Meta.fields})
        problems = services.global_variable_check(variable=variable)
        for field, message in problems.items():
            self.add_error(field if field in self.fields else None, message)
        if not problems:
            data["default"] = variable.default
        return data


@admin.register(GlobalVariable, site=console_site)
class GlobalVariableAdmin(TenantScopedAdmin):
    object_type = "global_variable"
    form = GlobalVariableForm
    list_display = (
        "name",
        "label",
        "type",
        "default",
        "agent_visible",
        "agent_editable",
        "reportable",
    )
    list_filter = ("type", "agent_visible", "agent_editable", "reportable")
    search_fields = ("name",)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.tenant = self._tenant(request)
        services.global_variable_save(variable=obj)


@admin.register(NodeAuthorization, site=console_site)
class NodeAuthorizationAdmin(TenantScopedAdmin):
    object_type = "node_authorization"
    list_display = ("node", "state", "authorized_by", "authorized_at")
    fields = ("node", "state", "authorized_by", "authorized_at")
    readonly_fields = fields
    actions = ["authorize", "revoke"]

    def changelist_view(self, request, extra_context=None):
        tenant = self._tenant(request)
        if tenant is not None and self._can(request, "view"):
            services.node_authorizations_ensure(tenant=tenant)
        return super().changelist_view(request, extra_context)

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Authorize the selected nodes", permissions=["change"])
    def authorize(self, request, queryset):
        for authorization in queryset:
            services.node_authorization_authorize(
                tenant=authorization.tenant, node=authorization.node, user=request.user
            )
        self.message_user(request, f"Authorized {queryset.count()} node(s).")

    @admin.action(description="Revoke the selected authorizations", permissions=["change"])
    def revoke(self, request, queryset):
        tenant = self._tenant(request)
        affected = selectors.flows_using_nodes(
            tenant=tenant, families={a.node for a in queryset if a.state == a.State.AUTHORIZED}
        )
        if affected and request.POST.get("confirm") != "yes":
            # Published flows keep running: say what will take its error path before revoking.
            return render(
                request,
                "admin/flows/node_authorization_revoke_confirm.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Revoke node authorizations?",
                    "opts": self.model._meta,
                    "authorizations": list(queryset),
                    "affected": affected,
                    "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                },
            )
        for authorization in queryset:
            services.node_authorization_revoke(
                tenant=authorization.tenant, node=authorization.node, user=request.user
            )
        self.message_user(request, f"Revoked {queryset.count()} node authorization(s).")


class BusinessCalendarForm(forms.ModelForm):
    class Meta:
        model = BusinessCalendar
        fields = ("name", "timezone", "hours", "holidays")

    def clean(self):
        data = super().clean()
        try:
            services.business_calendar_check(
                timezone_name=data.get("timezone") or "",
                hours=data.get("hours"),
                holidays=data.get("holidays"),
            )
        except ValidationError as exc:
            raise forms.ValidationError(exc.message_dict) from None
        return data


@admin.register(BusinessCalendar, site=console_site)
class BusinessCalendarAdmin(TenantScopedAdmin):
    object_type = "business_calendar"
    form = BusinessCalendarForm
    list_display = ("name", "timezone", "holiday_count")

    def holiday_count(self, obj: BusinessCalendar) -> int:
        return len(obj.holidays or [])
