"""Filters never reveal another tenant: the console's list filters offer the current tenant's
objects only, and an API id filter answers the same for another tenant's id as for a missing one."""

import pytest
from django.test import RequestFactory

from routing.models import Queue
from tenants.admin_site import (
    TenantRelatedFieldListFilter,
    TenantScopedAdmin,
    console_site,
)
from tests.factories import SiteFactory, TeamFactory


@pytest.fixture
def queues(tenant, other_tenant):
    return {
        "mine": Queue.objects.create(tenant=tenant, name="Acme Support", channel_type="social"),
        "also_mine": Queue.objects.create(tenant=tenant, name="Acme Sales", channel_type="social"),
        "theirs": Queue.objects.create(
            tenant=other_tenant, name="Globex Secret Queue", channel_type="social"
        ),
    }


def test_the_tasks_by_queue_filter_lists_only_the_current_tenants_queues(client, owner, queues):
    client.force_login(owner)

    page = client.get("/admin/routing/task/").content.decode()

    assert "Acme Support" in page and "Acme Sales" in page
    assert "Globex Secret Queue" not in page


def test_every_related_list_filter_in_the_console_is_tenant_scoped(owner, tenant):
    request = RequestFactory().get("/admin/")
    request.user, request.tenant = owner, tenant
    checked = 0
    for model, model_admin in console_site._registry.items():
        if not isinstance(model_admin, TenantScopedAdmin):
            continue
        for entry in model_admin.get_list_filter(request):
            name = entry if isinstance(entry, str) else entry[0]
            field = model._meta.get_field(name.split("__")[0])
            if field.is_relation and "__" not in name:
                assert entry[1] is TenantRelatedFieldListFilter, (model, name)
                checked += 1
    assert checked >= 1


def test_an_api_id_filter_answers_the_same_for_another_tenants_id_as_for_a_missing_one(
    api_as, owner, tenant, other_tenant
):
    mine = SiteFactory(tenant=tenant)
    TeamFactory(tenant=tenant, site=mine, name="Acme Team")
    theirs = SiteFactory(tenant=other_tenant)
    api = api_as(owner)

    other = api.get(f"/api/v1/teams/?site={theirs.pk}")
    missing = api.get("/api/v1/teams/?site=987654321")
    own = api.get(f"/api/v1/teams/?site={mine.pk}")

    assert other.status_code == missing.status_code == 400
    assert set(other.json()) == set(missing.json()) == {"site"}
    assert own.status_code == 200
    assert [t["name"] for t in own.json()["results"]] == ["Acme Team"]


def test_the_queue_filter_of_tasks_does_not_reveal_another_tenants_queue(api_as, owner, queues):
    api = api_as(owner)

    other = api.get(f"/api/v1/routing/tasks/?queue={queues['theirs'].pk}")
    missing = api.get("/api/v1/routing/tasks/?queue=987654321")

    assert other.status_code == missing.status_code == 400
    assert other.json().keys() == missing.json().keys()


def test_the_outsider_cannot_probe_acmes_ids_through_filters(api_as, outsider, tenant):
    site = SiteFactory(tenant=tenant)

    response = api_as(outsider).get(f"/api/v1/teams/?site={site.pk}")

    assert response.status_code == 400
    assert "Acme" not in response.content.decode()
