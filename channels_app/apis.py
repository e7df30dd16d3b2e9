"""REST endpoints of channels_app under /api/v1/: channel assets, dead letters, customers,
conversations (read-only, with their messages and attachment downloads) and channel templates."""

from django.db.models import Count, Prefetch
from django.http import Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from channels_app import services
from channels_app.fields import masked
from channels_app.media import UNKNOWN_FILE, attachment_file_response
from channels_app.models import (
    CONTENT_TYPE_PATTERN,
    Attachment,
    ChannelAsset,
    ChannelKind,
    ChannelTemplate,
    Conversation,
    Customer,
    CustomerIdentity,
    InboundEvent,
    Message,
    RichElement,
)
from channels_app.selectors import attachments_downloadable
from channels_app.services.assets import SECRET_FIELDS, channel_asset_webhook_url
from tenants.access import tenants_for_user, user_can
from tenants.api_base import TenantScopedSerializer, TenantScopedViewSet

READ_ONLY = ["get", "head", "options"]


class ChannelAssetSerializer(TenantScopedSerializer):
    """Secrets are write-only; reads show at most their last four characters."""

    webhook_url = serializers.SerializerMethodField()
    secrets = serializers.SerializerMethodField(
        help_text="Masked: never more than the last four characters."
    )

    class Meta:
        model = ChannelAsset
        fields = [
            "id",
            "uuid",
            "tenant",
            "kind",
            "name",
            "wa_phone_number_id",
            "wa_business_account_id",
            "fb_page_id",
            "sms_number",
            "sms_number_type",
            "sms_account_sid",
            "email_address",
            "email_intake",
            "imap_host",
            "imap_port",
            "imap_security",
            "imap_user",
            "imap_folder",
            "smtp_host",
            "smtp_port",
            "smtp_security",
            "smtp_user",
            "apple_business_id",
            "apple_msp_id",
            *SECRET_FIELDS,
            "secrets",
            "api_base_url",
            "webhook_url",
            "created_at",
        ]
        read_only_fields = ["uuid", "tenant", "created_at"]
        extra_kwargs = {
            name: {"write_only": True, "required": False, "allow_blank": True}
            for name in SECRET_FIELDS
        }

    def get_webhook_url(self, obj: ChannelAsset) -> str:
        return channel_asset_webhook_url(obj)

    def get_secrets(self, obj: ChannelAsset) -> dict[str, str]:
        return {name: masked(getattr(obj, name)) for name in SECRET_FIELDS}

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if self.instance is not None and "kind" in attrs and attrs["kind"] != self.instance.kind:
            raise serializers.ValidationError({"kind": "an asset's kind cannot change"})
        return attrs

    def create(self, validated_data):
        return services.channel_asset_create(**validated_data)

    def update(self, instance, validated_data):
        return services.channel_asset_update(asset=instance, **validated_data)


class ChannelAssetViewSet(TenantScopedViewSet):
    object_type = "channel_asset"
    queryset = ChannelAsset.objects.select_related("tenant")
    serializer_class = ChannelAssetSerializer
    filterset_fields = ["kind"]
    search_fields = ["name", "wa_phone_number_id", "fb_page_id", "sms_number"]
    ordering_fields = ["name", "created_at"]


class DeadLetterSerializer(serializers.ModelSerializer):
    """The raw body is conversation data: only people who may read transcripts get it."""

    asset_name = serializers.CharField(source="asset.name", read_only=True)
    kind = serializers.CharField(source="asset.kind", read_only=True)
    body = serializers.SerializerMethodField()

    def get_body(self, obj: InboundEvent) -> str | None:
        readable = self.context.get("transcript_tenant_ids", set())
        return obj.body if obj.tenant_id in readable else None

    class Meta:
        model = InboundEvent
        fields = [
            "id",
            "tenant",
            "asset",
            "asset_name",
            "kind",
            "provider_event_id",
            "status",
            "error",
            "attempts",
            "received_at",
            "processed_at",
            "content_type",
            "body",
        ]
        read_only_fields = fields


class DeadLetterViewSet(TenantScopedViewSet):
    """Dead letters: raw events that could not be processed. Bodies need transcript permission."""

    object_type = "dead_letter"
    queryset = InboundEvent.objects.select_related("asset")
    serializer_class = DeadLetterSerializer
    http_method_names = [*READ_ONLY, "post"]
    filterset_fields = ["asset"]
    ordering_fields = ["received_at"]

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "list":
            wanted = self.request.query_params.get("status")
            if wanted not in (None, "", InboundEvent.Status.DEAD):
                raise exceptions.ValidationError(
                    {"status": "this endpoint lists dead letters only"}
                )
            queryset = queryset.filter(status=InboundEvent.Status.DEAD)
        return queryset

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if self.request is not None and self.request.user.is_authenticated:
            context["transcript_tenant_ids"] = set(
                tenants_for_user(user=self.request.user, object_type="conversation").values_list(
                    "pk", flat=True
                )
            )
        return context

    def create(self, request, *args, **kwargs):
        raise exceptions.MethodNotAllowed("POST")

    @action(detail=True, methods=["post"])
    def replay(self, request, pk=None):
        event = self.get_object()
        if not user_can(
            user=request.user, tenant=event.tenant, object_type=self.object_type, action="change"
        ):
            raise exceptions.PermissionDenied("You may not replay events of this tenant.")
        if not services.inbound_event_replay(event=event):
            return Response(
                {
                    "detail": f"only dead or ignored events can be replayed; this one is {event.status}"
                },
                status=status.HTTP_409_CONFLICT,
            )
        event.refresh_from_db()
        return Response(self.get_serializer(event).data, status=status.HTTP_202_ACCEPTED)


class IdentitySerializer(serializers.ModelSerializer):
    class Meta:
        model = CustomerIdentity
        fields = ["kind", "address"]


class CustomerSerializer(serializers.ModelSerializer):
    identities = IdentitySerializer(many=True, read_only=True)

    class Meta:
        model = Customer
        fields = ["id", "tenant", "display_name", "identities", "created_at"]


class CustomerViewSet(TenantScopedViewSet):
    object_type = "customer"
    queryset = Customer.objects.prefetch_related("identities")
    serializer_class = CustomerSerializer
    http_method_names = READ_ONLY
    search_fields = ["display_name", "identities__address"]
    ordering_fields = ["display_name", "created_at"]


class AttachmentSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(
        help_text="The authorized download, only once a scan found the file clean; else null."
    )
    filename = serializers.SerializerMethodField(
        help_text='"unknown file" for an infected file (deleted; nothing of it is shown).'
    )

    class Meta:
        model = Attachment
        fields = [
            "id",
            "filename",
            "declared_content_type",
            "detected_content_type",
            "size",
            "scan_status",
            "refused_reason",
            "url",
        ]

    def get_filename(self, obj: Attachment) -> str:
        return UNKNOWN_FILE if obj.shown_as_unknown else obj.filename

    def get_url(self, obj: Attachment) -> str | None:
        if not obj.downloadable:
            return None
        path = reverse(
            "conversation-attachment-download",
            kwargs={"pk": obj.message.conversation_id, "attachment_id": obj.pk},
        )
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class MessageSerializer(serializers.ModelSerializer):
    attachments = AttachmentSerializer(many=True, read_only=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "direction",
            "author_kind",
            "author_agent",
            "content_type",
            "text",
            "content",
            "reply_to",
            "reply_to_provider_id",
            "provider_message_id",
            "status",
            "failure_reason",
            "created_at",
            "sent_at",
            "delivered_at",
            "read_at",
            "failed_at",
            "seen_at",
            "attachments",
        ]


class ConversationSerializer(serializers.ModelSerializer):
    customer_name = serializers.CharField(source="customer.display_name", read_only=True)
    address = serializers.CharField(source="identity.address", read_only=True)
    message_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Conversation
        fields = [
            "id",
            "uuid",
            "tenant",
            "asset",
            "kind",
            "status",
            "customer",
            "customer_name",
            "address",
            "owner",
            "opened_at",
            "last_message_at",
            "last_inbound_at",
            "closed_at",
            "close_reason",
            "wrap_up_code",
            "message_count",
        ]


class ConversationDetailSerializer(ConversationSerializer):
    messages = MessageSerializer(many=True, read_only=True)

    class Meta(ConversationSerializer.Meta):
        fields = [*ConversationSerializer.Meta.fields, "messages"]


class ConversationViewSet(TenantScopedViewSet):
    object_type = "conversation"
    queryset = (
        Conversation.objects.select_related("customer", "identity")
        .annotate(message_count=Count("messages"))
        .order_by("-last_message_at", "-id")
    )
    serializer_class = ConversationSerializer
    http_method_names = READ_ONLY
    filterset_fields = ["status", "kind", "asset", "customer", "owner"]
    ordering_fields = ["last_message_at", "opened_at"]

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "retrieve":
            queryset = queryset.prefetch_related(
                Prefetch(
                    "messages",
                    queryset=Message.objects.prefetch_related("attachments").order_by(
                        "created_at", "id"
                    ),
                )
            )
        return queryset

    def get_serializer_class(self):
        return ConversationDetailSerializer if self.action == "retrieve" else ConversationSerializer

    @extend_schema(responses={(200, "*/*"): OpenApiTypes.BINARY})
    @action(
        detail=True, methods=["get"], url_path=r"attachments/(?P<attachment_id>[0-9]+)/download"
    )
    def attachment_download(self, request, pk=None, attachment_id=None):
        """The file of an attachment of this conversation, once scanned clean (404 otherwise)."""
        conversation = self.get_object()
        attachment = (
            attachments_downloadable()
            .filter(pk=attachment_id, message__conversation=conversation)
            .first()
        )
        if attachment is None:
            raise Http404("No such attachment, or not downloadable (not scanned clean).")
        return attachment_file_response(attachment)


class ChannelTemplateSerializer(TenantScopedSerializer):
    """A channel's template in a tenant; channels without one use the defaults (see /defaults/)."""

    rich_elements = serializers.ListField(
        child=serializers.ChoiceField(choices=RichElement.choices), required=False
    )
    allowed_content_types = serializers.ListField(
        child=serializers.RegexField(
            CONTENT_TYPE_PATTERN,
            max_length=120,
            error_messages={"invalid": 'A MIME type ("application/pdf") or family ("image/*").'},
        ),
        required=False,
        help_text="Exact MIME types or families, checked against the type found in the bytes.",
    )
    colour = serializers.RegexField(
        r"^#[0-9a-fA-F]{6}$", error_messages={"invalid": "Give the colour as #rrggbb."}
    )
    max_bytes = serializers.IntegerField(min_value=1, max_value=2**40)

    class Meta:
        model = ChannelTemplate
        fields = [
            "id",
            "tenant",
            "kind",
            "label",
            "colour",
            "rich_elements",
            "allowed_content_types",
            "max_bytes",
            "updated_at",
        ]
        read_only_fields = ["tenant", "updated_at"]

    def validate_kind(self, value: str) -> str:
        if self.instance is not None and value != self.instance.kind:
            raise serializers.ValidationError("The channel of a template cannot change.")
        return value


class ChannelTemplateViewSet(TenantScopedViewSet):
    object_type = "channel_template"
    queryset = ChannelTemplate.objects.all()
    serializer_class = ChannelTemplateSerializer
    filterset_fields = ["kind"]

    @extend_schema(responses=ChannelTemplateSerializer(many=True))
    @action(detail=False, methods=["get"])
    def defaults(self, request):
        """What each channel uses until a tenant saves its own template."""
        if not tenants_for_user(user=request.user, object_type=self.object_type).exists():
            raise exceptions.PermissionDenied("You may not view channel templates.")
        templates = [ChannelTemplate.default_for(tenant=None, kind=k) for k in ChannelKind.values]
        return Response(ChannelTemplateSerializer(templates, many=True).data)


def register(router: DefaultRouter) -> None:
    """Adds this app's REST endpoints to /api/v1/."""
    router.register("channel-assets", ChannelAssetViewSet, basename="channel-asset")
    router.register("dead-letters", DeadLetterViewSet, basename="dead-letter")
    router.register("customers", CustomerViewSet, basename="customer")
    router.register("conversations", ConversationViewSet, basename="conversation")
    router.register("channel-templates", ChannelTemplateViewSet, basename="channel-template")
