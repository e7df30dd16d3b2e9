"""Base classes every tenant-owned REST endpoint is built on.

A viewset names its object type from the permission matrix. Lists show objects of the tenants in
which the user may view that type (filter with ?tenant=<id>); an object of any other tenant is a
404; writing needs the matrix's add / change / delete in the object's tenant (403 otherwise).
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from rest_framework import exceptions, mixins, serializers, viewsets

from tenants.access import tenant_for_user, tenants_for_user, tenants_reachable, user_can
from tenants.models import Tenant


class Conflict(exceptions.APIException):
    status_code = 409
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


WRITE_ACTIONS = {
    "create": "add",
    "update": "change",
    "partial_update": "change",
    "destroy": "delete",
}


class TenantScopedSerializer(serializers.ModelSerializer):
    """Rejects related objects from another tenant as if they did not exist."""

    def _target_tenant(self) -> Tenant | None:
        if self.instance is not None and hasattr(self.instance, "tenant"):
            return self.instance.tenant
        return self.context.get("tenant")

    def validate(self, attrs):
        attrs = super().validate(attrs)
        tenant = self._target_tenant()
        if tenant is None:
            return attrs
        for name, value in attrs.items():
            values = value if isinstance(value, list | tuple) else [value]
            for item in values:
                if (
                    isinstance(item, models.Model)
                    and getattr(item, "tenant_id", tenant.pk) != tenant.pk
                ):
                    raise serializers.ValidationError({name: "No such object in this tenant."})
        return attrs


def django_errors_to_drf(exc: DjangoValidationError) -> exceptions.ValidationError:
    if hasattr(exc, "message_dict"):
        return exceptions.ValidationError(exc.message_dict)
    return exceptions.ValidationError({"detail": exc.messages})


class TenantScopedGenericViewSet(viewsets.GenericViewSet):
    """Scoping and permission checks. Combine with DRF's mixins for the actions an endpoint has,
    listing this class first so its perform_create / perform_update win."""

    object_type: str = ""
    tenant_field: str = "tenant"

    def get_queryset(self):
        queryset = super().get_queryset()
        user = self.request.user
        visible = tenants_for_user(user=user, object_type=self.object_type)
        queryset = queryset.filter(**{f"{self.tenant_field}__in": visible})
        tenant_id = self.request.query_params.get("tenant")
        if tenant_id:
            if not tenant_id.isdigit():
                raise exceptions.ValidationError({"tenant": "must be a tenant id"})
            queryset = queryset.filter(**{f"{self.tenant_field}_id": int(tenant_id)})
        return queryset

    def _tenant_for_create(self) -> Tenant:
        user = self.request.user
        raw = self.request.data.get("tenant") if hasattr(self.request.data, "get") else None
        if raw in (None, ""):
            reachable = list(tenants_reachable(user=user)[:2])
            current = getattr(self.request, "tenant", None)
            if len(reachable) == 1:
                raw = reachable[0].pk
            elif current is not None:
                raw = current.pk
            else:
                raise exceptions.ValidationError(
                    {"tenant": "required: you belong to several tenants"}
                )
        if not str(raw).isdigit():
            raise exceptions.ValidationError({"tenant": "must be a tenant id"})
        try:
            return tenant_for_user(
                user=user, tenant_id=int(raw), object_type=self.object_type, action="add"
            )
        except DjangoPermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc)) from exc

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if self.action == "create" and self.request.method == "POST":
            context["tenant"] = self._tenant_for_create()
        return context

    def check_object_permissions(self, request, obj):
        super().check_object_permissions(request, obj)
        action = WRITE_ACTIONS.get(self.action)
        if action and not user_can(
            user=request.user,
            tenant=getattr(obj, self.tenant_field),
            object_type=self.object_type,
            action=action,
        ):
            raise exceptions.PermissionDenied(
                f"You may not {action} this {self.object_type.replace('_', ' ')}."
            )

    def perform_create(self, serializer):
        try:
            serializer.save(**{self.tenant_field: serializer.context["tenant"]})
        except DjangoValidationError as exc:
            raise django_errors_to_drf(exc) from exc

    def perform_update(self, serializer):
        try:
            serializer.save()
        except DjangoValidationError as exc:
            raise django_errors_to_drf(exc) from exc


class TenantScopedViewSet(
    TenantScopedGenericViewSet,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    mixins.ListModelMixin,
):
    """Full create / read / update / delete on a tenant-owned model."""
