"""The admin console's channel pages: assets (secrets write-only), dead letters (replay), customers
and conversations (read-only transcripts), channel templates and the malware audit."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from channels_app import services
from channels_app.asset_warnings import asset_warnings
from channels_app.fields import masked
from channels_app.models import (
    CHANNEL_TEMPLATE_DEFAULTS,
    ChannelAsset,
    ChannelKind,
    ChannelTemplate,
    ChatWidget,
    Conversation,
    Customer,
    CustomerIdentity,
    CustomerMerge,
    InboundEvent,
    MalwareDetection,
    Message,
    RetentionRun,
    RichElement,
)
from channels_app.services.assets import (
    SECRET_FIELDS,
    channel_asset_validate,
    channel_asset_webhook_url,
)
from tenants.access import user_can
from tenants.admin_site import ReadOnlyAdminMixin, TenantScopedAdmin, console_site


class ChannelAssetForm(forms.ModelForm):
    """Secrets are write-only: the form shows their last characters and keeps them when left blank."""

    api_base_url = forms.URLField(
        required=False,
        assume_scheme="https",
        label="API base URL",
        help_text="Provider API base URL; empty means the provider's real one.",
    )

    class Meta:
        model = ChannelAsset
        fields = "__all__"
        widgets = {name: forms.PasswordInput(render_value=False) for name in SECRET_FIELDS}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._stored = {name: getattr(self.instance, name, "") for name in SECRET_FIELDS}
        for name in SECRET_FIELDS:
            if name in self.fields:
                self.fields[name].required = False
                current = masked(self._stored[name])
                self.fields[name].help_text = (
                    f"Stored: {current}. Leave blank to keep it." if current else "Not set."
                )
                self.initial[name] = ""

    def clean(self):
        cleaned = super().clean()
        for name in SECRET_FIELDS:
            if name in cleaned and not cleaned[name]:
                cleaned[name] = self._stored[name]
        return cleaned

    def _post_clean(self):
        super()._post_clean()
        try:
            channel_asset_validate(self.instance)
        except ValidationError as exc:
            self._update_errors(exc)


META_KINDS = (ChannelKind.WHATSAPP, ChannelKind.MESSENGER)


def _copyable(value: str, label: str) -> str:
    return format_html(
        '<span class="copyable"><code>{}</code> '
        '<button type="button" class="button copy-button" data-copy="{}" aria-label="Copy {}">'
        "Copy</button></span>",
        value,
        value,
        label,
    )


class ChatWidgetInline(admin.StackedInline):
    """A live-chat asset's widget: its look, where it may be embedded, the snippet to paste."""

    model = ChatWidget
    can_delete = False
    max_num = 1
    extra = 0
    verbose_name = "Live-chat widget"
    readonly_fields = ("embed_snippet",)
    fields = (
        "embed_snippet",
        "allowed_origins",
        ("title", "color", "position"),
        "greeting",
        ("ask_name", "ask_email"),
        ("offline_behaviour", "offline_text"),
        "prechat_fields",
        "identity_secret",
    )

    def _asset_admin(self):
        return self.admin_site._registry[ChannelAsset]

    def has_view_permission(self, request, obj=None) -> bool:
        return self._asset_admin().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._asset_admin()._can(request, "change")

    def has_add_permission(self, request, obj=None) -> bool:
        return self._asset_admin()._can(request, "change")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Paste into your web pages")
    def embed_snippet(self, obj: ChatWidget) -> str:
        if obj is None or obj.pk is None:
            return "Shown once the asset is saved."
        src = f"{settings.PUBLIC_BASE_URL.rstrip('/')}/livechat/{obj.widget_id}/widget.js"
        return _copyable(f'<script src="{src}" async></script>', "the widget snippet")


@admin.register(ChannelAsset, site=console_site)
class ChannelAssetAdmin(TenantScopedAdmin):
    object_type = "channel_asset"
    form = ChannelAssetForm
    list_display = ("name", "kind", "provider_id", "webhook_url")
    list_filter = ("kind",)
    search_fields = ("name", "wa_phone_number_id", "fb_page_id", "sms_number", "email_address")
    actions = ("test_mail_connection",)
    readonly_fields = (
        "uuid",
        "webhook_url",
        "webhook_verify_token",
        "masked_secrets",
        "created_at",
    )

    class Media:
        css = {"all": ("admin_console/copy.css",)}
        js = ("admin_console/copy.js",)

    def get_inlines(self, request, obj=None):
        return (ChatWidgetInline,) if obj is not None and obj.kind == ChannelKind.CHAT else ()

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if obj.kind == ChannelKind.CHAT:
            ChatWidget.objects.get_or_create(asset=obj)

    def get_fieldsets(self, request, obj=None):
        webhook = ["webhook_url"]
        may_change = self._can(request, "change")
        # The verify token is pasted into Meta beside the URL: shown to those who may change it.
        if obj is not None and obj.kind in META_KINDS and may_change:
            webhook.append("webhook_verify_token")
        # A read-only page would print the secrets in clear: show them masked instead.
        secrets = SECRET_FIELDS if may_change else ("masked_secrets",)
        return (
            (None, {"fields": ("kind", "name", "uuid", "created_at")}),
            ("Webhook (paste into the provider's console)", {"fields": webhook}),
            (
                "Provider ids",
                {
                    "fields": (
                        "wa_phone_number_id",
                        "wa_business_account_id",
                        "fb_page_id",
                        "sms_number",
                        "sms_number_type",
                        "sms_account_sid",
                        "apple_business_id",
                        "apple_msp_id",
                    )
                },
            ),
            (
                "Email (address, and a mailbox or a mail service's webhook)",
                {
                    "classes": ()
                    if obj is None or obj.kind == ChannelKind.EMAIL
                    else ("collapse",),
                    "fields": (
                        "email_address",
                        "email_intake",
                        ("imap_host", "imap_port", "imap_security"),
                        ("imap_user", "imap_folder"),
                        ("smtp_host", "smtp_port", "smtp_security"),
                        "smtp_user",
                    ),
                },
            ),
            ("Secrets", {"fields": secrets}),
            ("Provider API", {"fields": ("api_base_url",)}),
        )

    @admin.action(description="Test the mail connection (IMAP and SMTP log-in)")
    def test_mail_connection(self, request, queryset):
        if not self._can(request, "change"):
            self.message_user(request, "You may not test connections.", messages.ERROR)
            return
        for asset in queryset:
            if asset.kind != ChannelKind.EMAIL:
                self.message_user(
                    request, f"{asset.name}: not an email asset, nothing to test.", messages.INFO
                )
                continue
            results = services.email_connection_check(asset=asset)
            if not results:
                self.message_user(
                    request,
                    f"{asset.name}: no IMAP or SMTP server is configured.",
                    messages.WARNING,
                )
            for server, ok, what in results:
                self.message_user(
                    request,
                    f"{asset.name}: {server} {'works' if ok else 'failed'}: {what}",
                    messages.SUCCESS if ok else messages.ERROR,
                )

    @admin.display(description="Secrets")
    def masked_secrets(self, obj: ChannelAsset) -> str:
        return ", ".join(
            f"{name.replace('_', ' ')}: {masked(getattr(obj, name)) or 'not set'}"
            for name in SECRET_FIELDS
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET":
            asset = self.get_object(request, object_id)
            if asset is not None:
                for warning in asset_warnings(asset):
                    messages.warning(request, warning)
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="Provider id")
    def provider_id(self, obj: ChannelAsset) -> str:
        return (
            obj.wa_phone_number_id
            or obj.fb_page_id
            or obj.sms_number
            or obj.email_address
            or obj.apple_business_id
        )

    @admin.display(description="Webhook URL")
    def webhook_url(self, obj: ChannelAsset) -> str:
        if not obj.pk:
            return "Shown once the asset is saved."
        return _copyable(channel_asset_webhook_url(obj), "webhook URL")

    @admin.display(description="Verify token")
    def webhook_verify_token(self, obj: ChannelAsset) -> str:
        if not obj.verify_token:
            return "Not set: enter one under Secrets, then paste the same text into Meta."
        return _copyable(obj.verify_token, "verify token")


@admin.register(InboundEvent, site=console_site)
class DeadLetterAdmin(TenantScopedAdmin):
    """Stored raw events, dead letters first in mind: filter by status, read the body, replay.

    Raw bodies are conversation data: without transcript permission only dead letters are listed
    and no body is shown."""

    object_type = "dead_letter"
    list_display = (
        "received_at",
        "asset",
        "status",
        "provider_event_id",
        "short_error",
        "attempts",
    )
    list_filter = ("status", "asset__kind")
    search_fields = ("provider_event_id", "error")
    readonly_fields = (
        "asset",
        "provider_event_id",
        "status",
        "error",
        "attempts",
        "received_at",
        "processed_at",
        "content_type",
        "raw_body",
    )
    exclude = ("body",)
    actions = ("replay",)
    list_select_related = ("asset",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def _reads_transcripts(self, request) -> bool:
        tenant = self._tenant(request)
        return tenant is not None and user_can(
            user=request.user, tenant=tenant, object_type="conversation"
        )

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if not self._reads_transcripts(request):
            queryset = queryset.filter(status=InboundEvent.Status.DEAD)
        return queryset

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if not self._reads_transcripts(request):
            fields = tuple(f for f in fields if f != "raw_body")
        return fields

    def get_fields(self, request, obj=None):
        return self.get_readonly_fields(request, obj)

    @admin.display(description="Error")
    def short_error(self, obj: InboundEvent) -> str:
        return obj.error[:80]

    @admin.display(description="Raw body")
    def raw_body(self, obj: InboundEvent) -> str:
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", obj.body)

    @admin.action(description="Replay the selected events")
    def replay(self, request, queryset):
        if not self._can(request, "change"):
            self.message_user(request, "You may not replay events.", messages.ERROR)
            return
        replayed = sum(services.inbound_event_replay(event=event) for event in queryset)
        self.message_user(
            request, f"{replayed} event(s) queued for processing again.", messages.SUCCESS
        )


class IdentityInline(admin.TabularInline):
    model = CustomerIdentity
    fields = ("kind", "address")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        # Shown only on a page its parent admin already let this user see.
        return True


@admin.register(Customer, site=console_site)
class CustomerAdmin(TenantScopedAdmin):
    object_type = "customer"
    list_display = ("__str__", "created_at", "merged_into")
    search_fields = ("display_name", "identities__address")
    fields = ("display_name", "notes", "tags", "merged_into", "created_at")
    readonly_fields = ("merged_into", "created_at")
    inlines = (IdentityInline,)
    actions = ("merge",)

    def save_model(self, request, obj, form, change):
        if change and "display_name" in form.changed_data:
            # An admin's name, like an agent's, is kept against provider profile names.
            obj.name_set_by_agent = True
        super().save_model(request, obj, form, change)

    @admin.action(description="Merge the two selected customers (the older record is kept)")
    def merge(self, request, queryset):
        from channels_app.services.customers import customer_merge

        if not self._can(request, "change"):
            self.message_user(request, "You may not merge customers.", messages.ERROR)
            return
        chosen = list(queryset.order_by("created_at", "pk")[:3])
        if len(chosen) != 2:
            self.message_user(request, "Select exactly two customers to merge.", messages.ERROR)
            return
        survivor, merged = chosen
        try:
            merge = customer_merge(survivor=survivor, merged=merged, by=request.user)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return
        self.message_user(
            request,
            f"Merged {merged} into {survivor}: {len(merge.identity_ids)} address(es) and "
            f"{len(merge.conversation_ids)} conversation(s) moved. Undo it under Customer merges.",
            messages.SUCCESS,
        )


@admin.register(CustomerMerge, site=console_site)
class CustomerMergeAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    """The merge audit: who merged which records when and what moved; undone merges stay listed."""

    object_type = "customer"
    list_display = ("at", "survivor", "merged", "by", "moved", "undone_at", "undone_by")
    list_select_related = ("survivor", "merged", "by", "undone_by")
    actions = ("undo",)

    @admin.display(description="moved")
    def moved(self, obj) -> str:
        return f"{len(obj.identity_ids)} address(es), {len(obj.conversation_ids)} conversation(s)"

    @admin.action(description="Undo the selected merges")
    def undo(self, request, queryset):
        from channels_app.services.customers import customer_merge_undo

        if not self._can(request, "change"):
            self.message_user(request, "You may not undo merges.", messages.ERROR)
            return
        undone, problems = 0, []
        for merge in queryset.order_by("-at", "-pk"):
            try:
                customer_merge_undo(merge=merge, by=request.user)
                undone += 1
            except ValidationError as exc:
                problems.append(f"{merge}: {' '.join(exc.messages)}")
        if undone:
            self.message_user(request, f"{undone} merge(s) undone.", messages.SUCCESS)
        for problem in problems:
            self.message_user(request, problem, messages.ERROR)


class MessageInline(admin.TabularInline):
    model = Message
    fields = (
        "created_at",
        "direction",
        "author_kind",
        "content_type",
        "text",
        "status",
        "failure_reason",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("created_at", "id")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        # Shown only on a page its parent admin already let this user see.
        return True

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Conversation, site=console_site)
class ConversationAdmin(TenantScopedAdmin):
    object_type = "conversation"
    list_display = ("__str__", "kind", "status", "owner", "last_message_at")
    list_filter = ("kind", "status")
    search_fields = ("customer__display_name", "identity__address")
    list_select_related = ("customer", "owner")
    readonly_fields = (
        "uuid",
        "asset",
        "customer",
        "identity",
        "kind",
        "status",
        "owner",
        "opened_at",
        "last_message_at",
        "last_inbound_at",
        "closed_at",
        "close_reason",
        "wrap_up_code",
        "variables",
    )
    inlines = (MessageInline,)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(RetentionRun, site=console_site)
class RetentionRunAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    """The retention job's audit: what each run deleted in this tenant. Read-only."""

    object_type = "tenant_policy"
    list_display = (
        "started_at",
        "conversations",
        "messages",
        "raw_events",
        "flow_runs",
        "files",
        "kept",
        "finished_at",
    )
    fields = list_display
    readonly_fields = list_display


class ContentTypesField(forms.CharField):
    """One MIME type or family per line, stored as a list."""

    widget = forms.Textarea(attrs={"rows": 8, "cols": 60})

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        text = super().to_python(value) or ""
        return [line.strip().lower() for line in text.splitlines() if line.strip()]


class ChannelTemplateForm(forms.ModelForm):
    rich_elements = forms.MultipleChoiceField(
        choices=RichElement.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    allowed_content_types = ContentTypesField(
        required=False,
        help_text='One per line: a type ("application/pdf") or a family ("image/*"). '
        "Checked against the type found in the file's bytes, never the sender's word.",
    )

    class Meta:
        model = ChannelTemplate
        fields = ["kind", "label", "colour", "rich_elements", "allowed_content_types", "max_bytes"]

    def __init__(self, *args, tenant=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        if self.instance.pk:
            self.fields["kind"].disabled = True

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        if (
            kind
            and self.tenant is not None
            and ChannelTemplate.objects.filter(tenant=self.tenant, kind=kind)
            .exclude(pk=self.instance.pk)
            .exists()
        ):
            self.add_error("kind", "This channel already has a template in this tenant.")
        return cleaned


@admin.register(ChannelTemplate, site=console_site)
class ChannelTemplateAdmin(TenantScopedAdmin):
    """How each channel shows in the desktop and which attachments it takes. A channel without a
    template here uses the defaults taken from its provider's limits (docs/attachments.md)."""

    object_type = "channel_template"
    form = ChannelTemplateForm
    list_display = ("kind", "label", "colour", "max_bytes", "updated_at")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        tenant = self._tenant(request)

        class TenantForm(form):
            def __init__(self, *args, **inner):
                super().__init__(*args, tenant=tenant, **inner)

        return TenantForm

    def get_changeform_initial_data(self, request):
        kind = request.GET.get("kind")
        if kind not in CHANNEL_TEMPLATE_DEFAULTS:
            return super().get_changeform_initial_data(request)
        default = ChannelTemplate.default_for(tenant=self._tenant(request), kind=kind)
        return {
            "kind": kind,
            "label": default.label,
            "colour": default.colour,
            "rich_elements": default.rich_elements,
            "allowed_content_types": default.allowed_content_types,
            "max_bytes": default.max_bytes,
        }

    def changelist_view(self, request, extra_context=None):
        tenant = self._tenant(request)
        if request.method == "GET" and tenant is not None and self._can(request, "add"):
            saved = set(
                ChannelTemplate.objects.filter(tenant=tenant).values_list("kind", flat=True)
            )
            for kind, label in ChannelKind.choices:
                if kind not in saved:
                    messages.info(
                        request,
                        format_html(
                            '{} uses the default template. <a href="add/?kind={}">Customize it</a>.',
                            label,
                            kind,
                        ),
                    )
        return super().changelist_view(request, extra_context)


@admin.register(MalwareDetection, site=console_site)
class MalwareDetectionAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    """The audit of infected attachments: each was deleted and never shown. Read-only."""

    object_type = "conversation"
    list_display = ("detected_at", "kind", "direction", "signature", "size", "message")
    list_filter = ("kind", "direction")
    fields = (
        "detected_at",
        "kind",
        "direction",
        "signature",
        "filename",
        "content_type",
        "size",
        "sha256",
        "message",
    )
    readonly_fields = fields
