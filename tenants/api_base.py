"""Base classes every tenant-owned REST endpoint is built on.

A viewset names its object type from the permission matrix. Lists show objects of the tenants in
which the user may view that type (filter with ?tenant=<id>); an object of any other tenant is a
404; writing needs the matrix's add / change / delete in the object's tenant (403 otherwise).
"""

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import ProtectedError, RestrictedError
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
    if hasattr(exc, "error_dict"):
        errors: dict[str, list[str]] = {}
        for name, items in exc.error_dict.items():
            for item in items:
                target = _unique_target(name, item)
                messages = (
                    item.messages
                    if target == name
                    else [_taken(target, str(item.params.get("model_name", "object")))]
                )
                errors.setdefault(target, []).extend(messages)
        return exceptions.ValidationError(errors)
    return exceptions.ValidationError({"detail": exc.messages})


def _taken(field: str, what: str) -> str:
    what = what[:1].lower() + what[1:]
    return f"A {what} with this {field.replace('_', ' ')} already exists in this tenant."


def _unique_target(name: str, error: DjangoValidationError) -> str:
    """A (tenant, name) uniqueness error belongs to the name, the field a client can change."""
    check = (getattr(error, "params", None) or {}).get("unique_check") or ()
    if name == NON_FIELD_ERRORS and getattr(error, "code", None) in ("unique", "unique_together"):
        fields = [field for field in check if field != "tenant"]
        if len(fields) == 1:
            return fields[0]
    return name


def _unique_field_sets(model: type[models.Model]) -> dict[str, list[str]]:
    """Constraint name -> the fields it makes unique, for the model's unique rules."""
    found: dict[str, list[str]] = {}
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint) and constraint.fields:
            found[constraint.name] = list(constraint.fields)
    for field in model._meta.concrete_fields:
        if field.unique and not field.primary_key:
            found[f"{model._meta.db_table}_{field.column}_key"] = [field.name]
    for together in model._meta.unique_together:
        found["|".join(together)] = list(together)
    return found


def integrity_error_to_drf(
    exc: IntegrityError, model: type[models.Model], tenant_field: str = "tenant"
) -> exceptions.ValidationError:
    """A unique rule the request broke, as a 400 on the field a client can change."""
    cause = exc.__cause__
    constraint = getattr(getattr(cause, "diag", None), "constraint_name", None) or ""
    fields = _unique_field_sets(model).get(constraint)
    if fields is None:
        # An unnamed unique_together, or a rule we cannot map: name the first unique rule whose
        # fields appear in the error text, else speak of the object as a whole.
        text = str(exc)
        fields = next(
            (
                names
                for names in _unique_field_sets(model).values()
                if all(name in text for name in names)
            ),
            [],
        )
    shown = [name for name in fields if name != tenant_field] or ["non_field_errors"]
    what = model._meta.verbose_name
    if shown == ["non_field_errors"]:
        return exceptions.ValidationError({"non_field_errors": [f"This {what} already exists."]})
    return exceptions.ValidationError(
        {
            name: [f"A {what} with this {' and '.join(shown)} already exists in this tenant."]
            for name in shown
        }
    )


def protected_error_to_conflict(exc: ProtectedError | RestrictedError) -> Conflict:
    """What still points at an object that cannot be deleted, counted by kind with a few names."""
    by_kind: dict[str, list[str]] = {}
    for obj in exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects:
        by_kind.setdefault(str(obj._meta.verbose_name_plural), []).append(str(obj))
    parts = []
    for kind, names in sorted(by_kind.items()):
        sample = ", ".join(sorted(names)[:3])
        more = f" and {len(names) - 3} more" if len(names) > 3 else ""
        parts.append(f"{len(names)} {kind} ({sample}{more})")
    return Conflict(f"It is still in use by {'; '.join(parts)}; remove or reassign those first.")


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
            with transaction.atomic():
                serializer.save(**{self.tenant_field: serializer.context["tenant"]})
        except DjangoValidationError as exc:
            raise django_errors_to_drf(exc) from exc
        except IntegrityError as exc:
            raise integrity_error_to_drf(exc, self.queryset.model, self.tenant_field) from exc

    def perform_update(self, serializer):
        try:
            with transaction.atomic():
                serializer.save()
        except DjangoValidationError as exc:
            raise django_errors_to_drf(exc) from exc
        except IntegrityError as exc:
            raise integrity_error_to_drf(exc, self.queryset.model, self.tenant_field) from exc

    def perform_destroy(self, instance):
        try:
            with transaction.atomic():
                instance.delete()
        except (ProtectedError, RestrictedError) as exc:
            raise protected_error_to_conflict(exc) from exc


class TenantScopedViewSet(
    TenantScopedGenericViewSet,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    mixins.ListModelMixin,
):
    """Full create / read / update / delete on a tenant-owned model."""
