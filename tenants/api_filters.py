"""Query-string filters that cannot tell another tenant's ids from missing ones.

django-filter validates `?queue=<id>` against every row of the table: a missing id answers 400,
another tenant's id answers an empty list, which tells the caller that id exists. This backend
limits each related-object filter to the tenants the user can reach, so both answer the same 400.
"""

from django.db.models import QuerySet
from django_filters import ModelChoiceFilter, ModelMultipleChoiceFilter
from django_filters.rest_framework import DjangoFilterBackend

from tenants.access import tenants_reachable
from tenants.models import Tenant, User


def scope_related_to_tenants(queryset: QuerySet, tenants: QuerySet[Tenant]) -> QuerySet:
    """queryset limited to the rows of the given tenants (none for models without a tenant)."""
    model = queryset.model
    if model is Tenant:
        return queryset.filter(pk__in=tenants)
    if model is User:
        return queryset.filter(memberships__tenant__in=tenants).distinct()
    if any(getattr(f, "name", None) == "tenant" for f in model._meta.get_fields()):
        return queryset.filter(tenant__in=tenants)
    return queryset.none()


class TenantScopedFilterBackend(DjangoFilterBackend):
    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is None:
            return None
        tenants = tenants_reachable(user=request.user)
        for filter_ in filterset.filters.values():
            if isinstance(filter_, ModelChoiceFilter | ModelMultipleChoiceFilter):
                base = filter_.queryset
                if callable(base):
                    base = base(request)
                if base is None:
                    base = filter_.model._meta.get_field(
                        filter_.field_name
                    ).related_model.objects.all()
                filter_.queryset = scope_related_to_tenants(base, tenants)
        return filterset
