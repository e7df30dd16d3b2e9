"""REST endpoints for tenants, people and agent setup (/api/v1/...)."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.throttling import ScopedRateThrottle

from tenants import services
from tenants.access import tenants_for_user, user_can
from tenants.api_base import (
    Conflict,
    TenantScopedGenericViewSet,
    TenantScopedSerializer,
    TenantScopedViewSet,
    django_errors_to_drf,
)
from tenants.models import (
    Agent,
    IdleCode,
    Invitation,
    Membership,
    MultimediaProfile,
    Site,
    Team,
    Tenant,
    TenantPolicy,
    WrapUpCode,
)
from tenants.roles import AdminRole, CareProfile, ConnectRole


class TenantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tenant
        fields = ["id", "uuid", "name", "slug", "kind", "partner", "created_at"]
        read_only_fields = ["uuid", "kind", "partner", "created_at"]


class TenantViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = TenantSerializer
    filterset_fields = ["kind", "partner"]
    search_fields = ["name", "slug"]

    def get_queryset(self):
        return tenants_for_user(user=self.request.user, object_type="tenant").select_related(
            "partner"
        )

    def check_object_permissions(self, request, obj):
        super().check_object_permissions(request, obj)
        if self.action in ("update", "partial_update") and not user_can(
            user=request.user, tenant=obj, object_type="tenant", action="change"
        ):
            raise exceptions.PermissionDenied("You may not change this tenant.")


class TenantPolicySerializer(TenantScopedSerializer):
    class Meta:
        model = TenantPolicy
        fields = [
            "id",
            "tenant",
            "rona_chat_seconds",
            "rona_email_seconds",
            "rona_social_seconds",
            "inactivity_close_minutes",
            "transcript_retention_days",
        ]
        read_only_fields = ["tenant"]


class TenantPolicyViewSet(
    TenantScopedGenericViewSet,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
):
    object_type = "tenant_policy"
    queryset = TenantPolicy.objects.all()
    serializer_class = TenantPolicySerializer
    filterset_fields = ["tenant"]


class MembershipSerializer(TenantScopedSerializer):
    email = serializers.EmailField(source="user.email", read_only=True)
    full_name = serializers.CharField(source="user.full_name", read_only=True)

    class Meta:
        model = Membership
        fields = [
            "id",
            "tenant",
            "user",
            "email",
            "full_name",
            "admin_role",
            "connect_role",
            "care_profile",
            "created_at",
        ]
        read_only_fields = ["tenant", "user", "created_at"]


class MembershipViewSet(
    TenantScopedGenericViewSet,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
):
    """Memberships; a role change applies the role tables. New people come through invitations."""

    object_type = "membership"
    queryset = Membership.objects.select_related("user", "tenant")
    serializer_class = MembershipSerializer
    filterset_fields = ["tenant", "admin_role", "connect_role", "care_profile"]
    search_fields = ["user__email", "user__full_name"]

    def perform_update(self, serializer):
        membership = serializer.instance
        data = serializer.validated_data
        actor = self.request.user
        try:
            if "admin_role" in data and data["admin_role"] != membership.admin_role:
                services.membership_set_admin_role(
                    membership=membership, admin_role=data["admin_role"], actor=actor
                )
            elif "connect_role" in data and data["connect_role"] != membership.connect_role:
                services.membership_set_connect_role(
                    membership=membership, connect_role=data["connect_role"], actor=actor
                )
            if "care_profile" in data and data["care_profile"] != membership.care_profile:
                services.membership_set_care_profile(
                    membership=membership, care_profile=data["care_profile"], actor=actor
                )
        except DjangoValidationError as exc:
            raise django_errors_to_drf(exc) from exc
        except DjangoPermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc)) from exc

    def perform_destroy(self, instance):
        try:
            services.membership_delete(membership=instance, actor=self.request.user)
        except DjangoValidationError as exc:
            raise django_errors_to_drf(exc) from exc
        except DjangoPermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc)) from exc


class InvitationSerializer(TenantScopedSerializer):
    admin_role = serializers.ChoiceField(choices=AdminRole.choices, required=False)
    connect_role = serializers.ChoiceField(choices=ConnectRole.choices, required=False)
    care_profile = serializers.ChoiceField(choices=CareProfile.choices, default=CareProfile.NONE)
    status = serializers.CharField(read_only=True)

    class Meta:
        model = Invitation
        fields = [
            "id",
            "tenant",
            "email",
            "admin_role",
            "connect_role",
            "care_profile",
            "team",
            "site",
            "multimedia_profile",
            "status",
            "created_at",
            "expires_at",
            "accepted_at",
        ]
        read_only_fields = ["tenant", "created_at", "expires_at", "accepted_at"]


class InvitationViewSet(
    TenantScopedGenericViewSet,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
):
    object_type = "invitation"
    queryset = Invitation.objects.select_related("tenant")
    serializer_class = InvitationSerializer
    filterset_fields = ["tenant", "email"]

    def perform_create(self, serializer):
        data = serializer.validated_data
        try:
            serializer.instance = services.invitation_create(
                tenant=serializer.context["tenant"],
                email=data["email"],
                invited_by=self.request.user,
                admin_role=data.get("admin_role"),
                connect_role=data.get("connect_role"),
                care_profile=data.get("care_profile", CareProfile.NONE),
                team=data.get("team"),
                site=data.get("site"),
                multimedia_profile=data.get("multimedia_profile"),
            )
        except DjangoValidationError as exc:
            raise django_errors_to_drf(exc) from exc
        except DjangoPermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc)) from exc

    @extend_schema(request=None, responses=InvitationSerializer)
    @action(detail=True, methods=["post"])
    def reissue(self, request, pk=None):
        """A new link, valid for another 7 days; the old link stops working."""
        invitation = self.get_object()
        if not user_can(
            user=request.user, tenant=invitation.tenant, object_type="invitation", action="change"
        ):
            raise exceptions.PermissionDenied("You may not re-issue invitations in this tenant.")
        try:
            services.invitation_reissue(invitation=invitation, actor=request.user)
        except DjangoValidationError as exc:
            raise django_errors_to_drf(exc) from exc
        except DjangoPermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc)) from exc
        return Response(self.get_serializer(invitation).data, status=status.HTTP_200_OK)


class ProtectedDeleteMixin:
    """Deleting something still in use is a 409 that names what uses it, not a 500."""

    def perform_destroy(self, instance):
        try:
            instance.delete()
        except ProtectedError as exc:
            users = sorted({str(obj) for obj in exc.protected_objects})[:5]
            raise Conflict(f"Still in use by: {', '.join(users)}.") from exc


class MultimediaProfileSerializer(TenantScopedSerializer):
    class Meta:
        model = MultimediaProfile
        fields = ["id", "tenant", "name", "max_chat", "max_email", "max_social", "blending"]
        read_only_fields = ["tenant"]


class MultimediaProfileViewSet(ProtectedDeleteMixin, TenantScopedViewSet):
    object_type = "multimedia_profile"
    queryset = MultimediaProfile.objects.all()
    serializer_class = MultimediaProfileSerializer
    filterset_fields = ["tenant", "blending"]
    search_fields = ["name"]


class SiteSerializer(TenantScopedSerializer):
    class Meta:
        model = Site
        fields = ["id", "tenant", "name", "multimedia_profile"]
        read_only_fields = ["tenant"]


class SiteViewSet(ProtectedDeleteMixin, TenantScopedViewSet):
    object_type = "site"
    queryset = Site.objects.all()
    serializer_class = SiteSerializer
    filterset_fields = ["tenant", "multimedia_profile"]
    search_fields = ["name"]


class TeamSerializer(TenantScopedSerializer):
    class Meta:
        model = Team
        fields = ["id", "tenant", "name", "site"]
        read_only_fields = ["tenant"]


class TeamViewSet(ProtectedDeleteMixin, TenantScopedViewSet):
    object_type = "team"
    queryset = Team.objects.all()
    serializer_class = TeamSerializer
    filterset_fields = ["tenant", "site"]
    search_fields = ["name"]


class AgentSerializer(TenantScopedSerializer):
    email = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = Agent
        fields = [
            "id",
            "tenant",
            "user",
            "email",
            "display_name",
            "team",
            "site",
            "multimedia_profile",
        ]
        read_only_fields = ["tenant"]

    def validate(self, attrs):
        attrs = super().validate(attrs)
        tenant = self._target_tenant()
        user = attrs.get("user") or getattr(self.instance, "user", None)
        if (
            tenant is not None
            and user is not None
            and not Membership.objects.filter(
                tenant=tenant, user=user, care_profile=CareProfile.AGENT
            ).exists()
        ):
            raise serializers.ValidationError({"user": "No agent with this id in this tenant."})
        return attrs


class AgentViewSet(ProtectedDeleteMixin, TenantScopedViewSet):
    object_type = "agent"
    queryset = Agent.objects.select_related("user")
    serializer_class = AgentSerializer
    filterset_fields = ["tenant", "team", "site", "multimedia_profile"]
    search_fields = ["display_name", "user__email"]


class IdleCodeSerializer(TenantScopedSerializer):
    class Meta:
        model = IdleCode
        fields = ["id", "tenant", "name"]
        read_only_fields = ["tenant"]


class IdleCodeViewSet(ProtectedDeleteMixin, TenantScopedViewSet):
    object_type = "idle_code"
    queryset = IdleCode.objects.all()
    serializer_class = IdleCodeSerializer
    filterset_fields = ["tenant"]


class WrapUpCodeSerializer(TenantScopedSerializer):
    class Meta:
        model = WrapUpCode
        fields = ["id", "tenant", "name"]
        read_only_fields = ["tenant"]


class WrapUpCodeViewSet(ProtectedDeleteMixin, TenantScopedViewSet):
    object_type = "wrap_up_code"
    queryset = WrapUpCode.objects.all()
    serializer_class = WrapUpCodeSerializer
    filterset_fields = ["tenant"]


def register(router: DefaultRouter) -> None:
    router.register("tenants", TenantViewSet, basename="tenant")
    router.register("tenant-policies", TenantPolicyViewSet, basename="tenant-policy")
    router.register("memberships", MembershipViewSet, basename="membership")
    router.register("invitations", InvitationViewSet, basename="invitation")
    router.register("multimedia-profiles", MultimediaProfileViewSet, basename="multimedia-profile")
    router.register("sites", SiteViewSet, basename="site")
    router.register("teams", TeamViewSet, basename="team")
    router.register("agents", AgentViewSet, basename="agent")
    router.register("idle-codes", IdleCodeViewSet, basename="idle-code")
    router.register("wrap-up-codes", WrapUpCodeViewSet, basename="wrap-up-code")


class TokenObtainView(ObtainAuthToken):
    """POST username (email) and password for an API token. Throttled per client address, and
    behind the same per-account and per-address sign-in lockout as the login page."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth-token"

    def get_serializer_context(self):
        # The lockout marks the request it is given; the middleware that answers 429 sees
        # Django's request, not DRF's wrapper around it.
        return {**super().get_serializer_context(), "request": self.request._request}
