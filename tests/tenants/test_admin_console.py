"""The admin console is scoped to the tenant the user works in, and follows the matrix."""

import pytest

from tenants.models import Team
from tenants.roles import AdminRole, TenantKind
from tests.factories import TeamFactory, TenantFactory, member


@pytest.fixture
def globex_team(other_tenant):
    return TeamFactory(tenant=other_tenant, name="Globex Secret Team")


def test_an_admin_sees_only_their_tenants_objects(client, owner, team, globex_team):
    client.force_login(owner)

    response = client.get("/admin/tenants/team/")

    assert response.status_code == 200
    assert b"Support" in response.content
    assert b"Globex Secret Team" not in response.content


def test_another_tenants_object_does_not_exist_in_the_console(client, owner, globex_team):
    client.force_login(owner)

    change = client.get(f"/admin/tenants/team/{globex_team.pk}/change/")
    post = client.post(
        f"/admin/tenants/team/{globex_team.pk}/change/",
        {"name": "pwned", "site": globex_team.site_id},
    )
    delete = client.post(f"/admin/tenants/team/{globex_team.pk}/delete/", {"post": "yes"})

    for response in (change, post, delete):
        assert response.status_code == 302
        assert response.url == "/admin/"
    globex_team.refresh_from_db()
    assert globex_team.name == "Globex Secret Team"


def test_an_outsider_cannot_switch_into_another_tenant(client, outsider, tenant):
    client.force_login(outsider)

    assert client.get(f"/admin/switch-tenant/{tenant.pk}/").status_code == 404
    assert b"Acme" not in client.get("/admin/tenants/tenant/").content


def test_new_objects_land_in_the_current_tenant_with_choices_from_it_only(
    client, owner, tenant, team, globex_team
):
    client.force_login(owner)

    form = client.get("/admin/tenants/team/add/")
    assert globex_team.site.name.encode() not in form.content

    response = client.post("/admin/tenants/team/add/", {"name": "Billing", "site": team.site_id})
    assert response.status_code == 302
    assert Team.objects.get(name="Billing").tenant == tenant

    foreign = client.post(
        "/admin/tenants/team/add/", {"name": "Sneaky", "site": globex_team.site_id}
    )
    assert foreign.status_code == 200  # the form comes back with an error
    assert not Team.objects.filter(name="Sneaky").exists()


def test_a_read_only_admin_can_view_but_not_change(client, tenant, team):
    reader = member(tenant=tenant, admin_role=AdminRole.READ_ONLY)
    client.force_login(reader)

    view = client.get(f"/admin/tenants/team/{team.pk}/change/")
    assert view.status_code == 200
    assert b'name="_save"' not in view.content
    assert (
        client.post(
            f"/admin/tenants/team/{team.pk}/change/", {"name": "X", "site": team.site_id}
        ).status_code
        == 403
    )
    assert client.get("/admin/tenants/team/add/").status_code == 403
    team.refresh_from_db()
    assert team.name == "Support"


def test_agents_and_supervisors_without_an_admin_role_do_not_get_the_console(
    client, agent, supervisor
):
    for user in (agent.user, supervisor):
        client.force_login(user)
        response = client.get("/admin/")
        assert response.status_code == 302
        assert "/admin/login/" in response.url


def test_a_partner_admin_switches_between_their_customers(client, db):
    partner = TenantFactory(name="Partner Ltd", kind=TenantKind.PARTNER)
    north = TenantFactory(name="North GmbH", partner=partner)
    south = TenantFactory(name="South AG", partner=partner)
    TeamFactory(tenant=north, name="North Team")
    TeamFactory(tenant=south, name="South Team")
    admin = member(tenant=partner, admin_role=AdminRole.FULL_ADMIN)
    client.force_login(admin)

    client.get(f"/admin/switch-tenant/{north.pk}/")
    north_page = client.get("/admin/tenants/team/").content
    client.get(f"/admin/switch-tenant/{south.pk}/")
    south_page = client.get("/admin/tenants/team/").content

    assert b"North Team" in north_page and b"South Team" not in north_page
    assert b"South Team" in south_page and b"North Team" not in south_page
    assert b"North GmbH" in south_page  # offered in the switcher


def test_a_partner_admin_never_sees_care_console_pages(client, db):
    partner = TenantFactory(name="Partner Ltd", kind=TenantKind.PARTNER)
    TenantFactory(name="North GmbH", partner=partner)
    admin = member(tenant=partner, admin_role=AdminRole.FULL_ADMIN)
    client.force_login(admin)

    index = client.get("/admin/")
    assert index.status_code == 200
    assert b"/admin/channels_app/conversation/" not in index.content
    assert b"/admin/channels_app/customer/" not in index.content


def test_role_changes_in_the_console_apply_the_role_tables(client, owner, supervisor, tenant):
    from tenants.models import Membership

    membership = Membership.objects.get(user=supervisor, tenant=tenant)
    client.force_login(owner)
    response = client.post(
        f"/admin/tenants/membership/{membership.pk}/change/",
        {"admin_role": "read_only", "connect_role": "none", "care_profile": "supervisor"},
    )

    assert response.status_code == 302
    membership.refresh_from_db()
    assert (membership.admin_role, membership.connect_role) == ("read_only", "read_only")


def test_home_sends_admins_to_the_console_agents_to_the_desktop_and_others_to_login(
    client, owner, agent, db
):
    assert client.get("/").url.startswith("/accounts/login/")
    client.force_login(owner)
    assert client.get("/").url == "/admin/"
    client.force_login(agent.user)
    assert client.get("/").url == "/desktop/"
