from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from routing.models import (
    AgentSkillProfile,
    AgentState,
    AgentStateChange,
    EntryPoint,
    Offer,
    Queue,
    Skill,
    SkillProfile,
    Task,
    TaskEvent,
    TeamSkillProfile,
)
from tenants.api_base import TenantScopedSerializer


def _model_clean(
    serializer: serializers.ModelSerializer, attrs: dict, exclude_m2m: tuple[str, ...] = ()
) -> None:
    """Runs the model's clean() on the would-be instance so the API and the console agree."""
    model = serializer.Meta.model
    instance = serializer.instance or model()
    values = {k: v for k, v in attrs.items() if k not in exclude_m2m}
    probe = model(**{f.attname: getattr(instance, f.attname) for f in model._meta.concrete_fields})
    for name, value in values.items():
        setattr(probe, name, value)
    tenant = serializer._target_tenant()
    if tenant is not None and hasattr(probe, "tenant_id"):
        probe.tenant_id = tenant.pk
    try:
        probe.clean()
    except DjangoValidationError as exc:
        raise serializers.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        ) from exc


class EntryPointSerializer(TenantScopedSerializer):
    class Meta:
        model = EntryPoint
        fields = [
            "id",
            "tenant",
            "name",
            "channel_type",
            "social_channel_type",
            "asset",
            "flow",
            "created_at",
        ]
        read_only_fields = ["tenant", "created_at"]

    def validate(self, attrs):
        attrs = super().validate(attrs)
        _model_clean(self, attrs)
        return attrs


class QueueSerializer(TenantScopedSerializer):
    class Meta:
        model = Queue
        fields = [
            "id",
            "tenant",
            "name",
            "channel_type",
            "routing_type",
            "teams",
            "service_level_seconds",
            "max_time_in_queue_seconds",
            "overflow_queue",
            "default",
            "created_at",
        ]
        read_only_fields = ["tenant", "created_at"]

    def validate(self, attrs):
        attrs = super().validate(attrs)
        _model_clean(self, attrs, exclude_m2m=("teams",))
        tenant = self._target_tenant()
        if attrs.get("default") and tenant is not None:
            other = (
                Queue.objects.filter(tenant=tenant, default=True)
                .exclude(pk=getattr(self.instance, "pk", None))
                .first()
            )
            if other is not None:
                raise serializers.ValidationError(
                    {"default": f"{other.name} is already the default queue."}
                )
        if (
            self.instance is not None
            and "channel_type" in attrs
            and attrs["channel_type"] != self.instance.channel_type
        ):
            if self.instance.tasks.exclude(status="closed").exists():
                raise serializers.ValidationError(
                    {
                        "channel_type": "The queue has open tasks; its channel type cannot change now."
                    }
                )
        return attrs


class SkillSerializer(TenantScopedSerializer):
    enum_values = serializers.ListField(
        child=serializers.CharField(max_length=80),
        required=False,
        help_text="The named values of an enumeration skill.",
    )

    class Meta:
        model = Skill
        fields = ["id", "tenant", "name", "type", "enum_values", "description"]
        read_only_fields = ["tenant"]

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if self.instance is not None and "type" in attrs and attrs["type"] != self.instance.type:
            if self.instance.profile_values.exists():
                raise serializers.ValidationError(
                    {"type": "Profiles use this skill; its type cannot change."}
                )
        if self.instance is not None and "enum_values" in attrs:
            used = set(self.instance.profile_values.values_list("text_value", flat=True))
            missing = used - set(attrs["enum_values"] or [])
            if self.instance.type == "enum" and missing:
                raise serializers.ValidationError(
                    {
                        "enum_values": f"Profiles use {', '.join(sorted(missing))}; keep those values."
                    }
                )
        _model_clean(self, attrs)
        return attrs


class SkillProfileSerializer(TenantScopedSerializer):
    values = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        write_only=True,
        help_text="Skill name -> value.",
    )

    class Meta:
        model = SkillProfile
        fields = ["id", "tenant", "name", "values"]
        read_only_fields = ["tenant"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["values"] = {v.skill.name: v.value for v in instance.values.all()}
        return data


class AgentSkillProfileSerializer(TenantScopedSerializer):
    class Meta:
        model = AgentSkillProfile
        fields = ["id", "tenant", "agent", "profile"]
        read_only_fields = ["tenant"]


class TeamSkillProfileSerializer(TenantScopedSerializer):
    class Meta:
        model = TeamSkillProfile
        fields = ["id", "tenant", "team", "profile"]
        read_only_fields = ["tenant"]


class TaskSerializer(TenantScopedSerializer):
    requirements = serializers.SerializerMethodField()
    current_requirements = serializers.SerializerMethodField()

    class Meta:
        model = Task
        fields = [
            "id",
            "tenant",
            "conversation",
            "queue",
            "channel_type",
            "priority",
            "status",
            "enqueued_at",
            "queue_entered_at",
            "requirements",
            "relaxation_steps",
            "relaxation_level",
            "current_requirements",
            "next_relaxation_at",
            "overflow_at",
            "variables",
            "agent",
            "assigned_at",
            "closed_at",
            "close_reason",
        ]
        read_only_fields = fields

    def get_requirements(self, obj):
        return [{k: r[k] for k in ("skill", "operator", "value")} for r in obj.requirements]

    def get_current_requirements(self, obj):
        return [{k: r[k] for k in ("skill", "operator", "value")} for r in obj.current_requirements]


class TaskEnqueueSerializer(serializers.Serializer):
    conversation = serializers.IntegerField()
    queue = serializers.IntegerField()
    priority = serializers.JSONField(required=False, default=5)
    requirements = serializers.ListField(
        child=serializers.DictField(), required=False, default=list
    )
    relaxation_steps = serializers.ListField(
        child=serializers.DictField(), required=False, default=list
    )
    variables = serializers.DictField(required=False, default=dict)


class TaskCloseSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=40, default="closed_by_supervisor")


class TaskEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = TaskEvent
        fields = ["id", "kind", "at", "agent", "offer", "queue", "data"]


class AgentStateSerializer(serializers.ModelSerializer):
    agent_name = serializers.CharField(source="agent.__str__", read_only=True)

    class Meta:
        model = AgentState
        fields = [
            "agent",
            "agent_name",
            "tenant",
            "team",
            "state",
            "idle_code",
            "state_since",
            "available_since",
            "engaged_chat",
            "engaged_email",
            "engaged_social",
            "max_chat",
            "max_email",
            "max_social",
            "blending",
        ]
        read_only_fields = fields


class AgentStateChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = AgentStateChange
        fields = ["id", "agent", "state", "previous_state", "idle_code", "reason", "at"]


class AgentStateSetSerializer(serializers.Serializer):
    state = serializers.CharField()
    idle_code = serializers.IntegerField(required=False, allow_null=True)


class OfferSerializer(serializers.ModelSerializer):
    class Meta:
        model = Offer
        fields = [
            "id",
            "task",
            "agent",
            "channel_type",
            "status",
            "created_at",
            "expires_at",
            "decided_at",
        ]
