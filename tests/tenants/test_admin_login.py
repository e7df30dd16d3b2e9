"""Tenant admins sign in at /admin/ through the login form, without being platform staff."""

import pytest

from tenants import demo
from tenants.roles import AdminRole, CareProfile
from tests.factories import member

PASSWORD = "correct horse battery"


def sign_in(client, email: str, password: str = PASSWORD):
    login_page = client.get("/admin/", follow=True)
    assert login_page.request["PATH_INFO"] == "/admin/login/"
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": email, "password": password, "next": "/admin/"},
        follow=True,
    )


def test_the_readmes_demo_admin_signs_in_at_admin(client, db):
    demo.seed()

    response = sign_in(client, "admin@demo.test", demo.DEMO_PASSWORD)

    assert response.status_code == 200
    assert response.request["PATH_INFO"] == "/admin/"
    assert b"Contact Center admin console" in response.content
    assert b"Demo Co" in response.content
    assert b"staff account" not in response.content


@pytest.mark.parametrize("admin_role", [AdminRole.FULL_ADMIN, AdminRole.READ_ONLY])
def test_a_tenant_admin_who_is_not_staff_signs_in(client, tenant, admin_role):
    user = member(tenant=tenant, email="ada@acme.test", admin_role=admin_role)
    assert not user.is_staff

    response = sign_in(client, "ada@acme.test")

    assert response.request["PATH_INFO"] == "/admin/"
    assert b"Site administration" in response.content or b"Configuration" in response.content


@pytest.mark.parametrize("care_profile", [CareProfile.AGENT, CareProfile.SUPERVISOR])
def test_agents_and_supervisors_signing_in_at_admin_are_told_where_they_belong(
    client, tenant, care_profile
):
    member(tenant=tenant, email="sam@acme.test", care_profile=care_profile)

    response = sign_in(client, "sam@acme.test")

    assert response.status_code == 200
    assert response.request["PATH_INFO"] == "/admin/login/"
    assert b"This console is for tenant admins" in response.content
    assert b"/desktop/" in response.content
    assert "_auth_user_id" not in client.session


def test_a_wrong_password_is_still_refused(client, owner):
    response = sign_in(client, owner.email, "not the password")

    assert response.request["PATH_INFO"] == "/admin/login/"
    assert b"Please enter the correct" in response.content
    assert "_auth_user_id" not in client.session


def test_an_outsider_admin_signs_in_to_their_own_tenant_only(client, outsider, tenant, team):
    response = sign_in(client, outsider.email)

    assert response.request["PATH_INFO"] == "/admin/"
    assert b"Globex" in response.content
    assert client.get(f"/admin/switch-tenant/{tenant.pk}/").status_code == 404
    assert b"Support" not in client.get("/admin/tenants/team/").content
