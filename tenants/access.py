"""The one place that asks django-guardian and tenant membership.

"Not yours" is a 404: an object of a tenant the user cannot see does not exist for them.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import Model, Q, QuerySet
from django.http import Http404
from guardian.shortcuts import get_objects_for_user

from tenants.models import Tenant, User
from tenants.permissions import perm_name
from tenants.roles import AdminRole, TenantKind


def tenants_reachable(*, user: User) -> QuerySet[Tenant]:
    """Tenants the user belongs to, plus the customers of partners they administer."""
    if not user.is_authenticated:
        return Tenant.objects.none()
    if user.is_superuser:
        return Tenant.objects.all()
    return Tenant.objects.filter(
        Q(memberships__user=user)
        | Q(
            partner__memberships__user=user,
            partner__kind=TenantKind.PARTNER,
        )
        & ~Q(partner__memberships__admin_role=AdminRole.NONE)
    ).distinct()


def tenants_for_user(*, user: User, object_type: str, action: str = "view") -> QuerySet[Tenant]:
    """Tenants in which the user may <action> objects of <object_type>."""
    if not user.is_authenticated:
        return Tenant.objects.none()
    return get_objects_for_user(
        user, perm_name(action, object_type), klass=Tenant, accept_global_perms=False
    )


def user_can(*, user: User, tenant: Tenant, object_type: str, action: str = "view") -> bool:
    return bool(user.is_authenticated) and user.has_perm(perm_name(action, object_type), tenant)


def tenant_for_user(
    *, user: User, tenant_id: int | str, object_type: str, action: str = "view"
) -> Tenant:
    tenant = tenants_reachable(user=user).filter(pk=tenant_id).first()
    if tenant is None or not user_can(
        user=user, tenant=tenant, object_type=object_type, action="view"
    ):
        raise Http404("No such tenant.")
    if not user_can(user=user, tenant=tenant, object_type=object_type, action=action):
        raise PermissionDenied(
            f"You may not {action} {object_type.replace('_', ' ')}s in this tenant."
        )
    return tenant


def object_for_user(
    *, user: User, queryset: QuerySet, pk, object_type: str, action: str = "view"
) -> Model:
    """Loads a tenant-owned object: 404 unless the user may view it, 403 if they may not <action> it."""
    if not str(pk).isdigit():
        raise Http404("No such object.")  # an id that cannot exist, like any other missing one
    visible = queryset.filter(tenant__in=tenants_for_user(user=user, object_type=object_type))
    obj = visible.filter(pk=pk).first()
    if obj is None:
        raise Http404("No such object.")
    if action != "view" and not user_can(
        user=user, tenant=obj.tenant, object_type=object_type, action=action
    ):
        raise PermissionDenied(f"You may not {action} this {object_type.replace('_', ' ')}.")
    return obj
