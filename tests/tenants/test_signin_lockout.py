"""Sign-in lockout and password rules: too many failures for one account, or from one address,
refuse sign-in for a while with a 429 that says when to retry; passwords pass Django's full set
of validators."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from tenants import services
from tenants.models import User
from tenants.roles import AdminRole

PASSWORD = "correct horse battery"
LIMIT = 5


def sign_in(
    client, email: str, password: str, *, address: str = "203.0.113.7", path="/accounts/login/"
):
    return client.post(path, {"username": email, "password": password}, REMOTE_ADDR=address)


def token(api, email: str, password: str, *, address: str = "203.0.113.7", **headers):
    return api.post(
        "/api/v1/auth/token/",
        {"username": email, "password": password},
        format="json",
        REMOTE_ADDR=address,
        **headers,
    )


def test_wrong_passwords_lock_the_account_even_for_the_right_password(client, owner):
    for _ in range(LIMIT - 1):
        assert sign_in(client, owner.email, "wrong").status_code == 200  # the form, with an error
    locked = sign_in(client, owner.email, "wrong")
    assert locked.status_code == 429

    response = sign_in(client, owner.email, PASSWORD, address="198.51.100.20")

    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    assert b"Too many failed sign-in attempts" in response.content
    assert b"Try again in 15 minutes" in response.content
    assert b'name="password"' in response.content  # the sign-in form, with the reason
    assert "_auth_user_id" not in client.session


def test_the_lockout_lifts_after_the_cool_off(client, owner):
    for _ in range(LIMIT):
        sign_in(client, owner.email, "wrong")

    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        response = sign_in(client, owner.email, PASSWORD)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(owner.pk)


def test_failures_across_accounts_lock_the_address_but_not_other_addresses(client, tenant, owner):
    for n in range(LIMIT):
        sign_in(client, f"nobody{n}@acme.test", "guess")

    from_there = sign_in(client, owner.email, PASSWORD)
    from_elsewhere = sign_in(client, owner.email, PASSWORD, address="198.51.100.20")

    assert from_there.status_code == 429
    assert from_elsewhere.status_code == 302


def test_a_locked_account_of_one_tenant_leaves_another_tenants_admin_alone(client, owner, outsider):
    for _ in range(LIMIT):
        sign_in(client, owner.email, "wrong")

    response = sign_in(client, outsider.email, PASSWORD, address="198.51.100.20")

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(outsider.pk)


def test_the_admin_sign_in_shares_the_lockout(client, owner):
    for _ in range(LIMIT):
        sign_in(client, owner.email, "wrong", path="/admin/login/")

    response = sign_in(client, owner.email, PASSWORD, path="/admin/login/", address="198.51.100.20")

    assert response.status_code == 429


def test_the_token_endpoint_locks_out_with_a_json_429(api, owner, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"auth-token": "1000/min"},
    }
    for _ in range(LIMIT):
        assert token(api, owner.email, "wrong").status_code in (400, 429)

    response = token(api, owner.email, PASSWORD, address="198.51.100.20")

    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    assert "Try again in 15 minutes" in response.json()["detail"]
    assert "token" not in response.json()


def test_the_token_endpoint_is_throttled_per_address(api, owner, outsider):
    # 10 a minute from one address, right password or not, whatever X-Forwarded-For claims.
    for n in range(10):
        response = token(api, owner.email, PASSWORD, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
        assert response.status_code == 200

    throttled = token(api, owner.email, PASSWORD)
    elsewhere = token(api, outsider.email, PASSWORD, address="198.51.100.20")

    assert throttled.status_code == 429
    assert "throttled" in throttled.json()["detail"]
    assert int(throttled["Retry-After"]) > 0
    assert elsewhere.status_code == 200


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Tr0ub4dor", "too short"),
        ("48201937465", "entirely numeric"),
        ("password1234", "too common"),
        ("dana.doe.example", "too similar"),
    ],
)
def test_passwords_pass_the_full_set_of_validators(client, tenant, owner, password, reason):
    invitation = services.invitation_create(
        tenant=tenant,
        email="dana.doe@example.test",
        invited_by=owner,
        admin_role=AdminRole.READ_ONLY,
    )

    response = client.post(
        f"/invitations/{invitation.token}/",
        {"full_name": "Dana Doe", "password": password, "password_again": password},
    )

    assert response.status_code == 400
    assert reason in response.content.decode()
    assert not User.objects.filter(email="dana.doe@example.test").exists()
