"""Shared personas: alice owns tenant Acme, bob is one of its agents, carol supervises it, and
mallory is a full admin of another tenant (Globex): the outsider every API test includes."""

import os

import pytest
from django.core.cache import cache
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient

from tenants.roles import AdminRole, CareProfile
from tests.factories import AgentFactory, TeamFactory, TenantFactory, member


@pytest.fixture(autouse=True)
def _eager_celery(settings):
    # Tasks run in the test's process; tests that need a real worker start one themselves.
    settings.CELERY_TASK_ALWAYS_EAGER = True


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Production's PBKDF2 costs ~0.2 s a password by design; tests create and sign in many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    # API throttle counters live in the cache: each test starts with none.
    cache.clear()


@pytest.fixture
def tenant(db):
    return TenantFactory(name="Acme", slug="acme")


@pytest.fixture
def other_tenant(db):
    return TenantFactory(name="Globex", slug="globex")


@pytest.fixture
def owner(tenant):
    """alice: full admin of Acme (and so its workspace tenant owner)."""
    return member(tenant=tenant, email="alice@acme.test", admin_role=AdminRole.FULL_ADMIN)


@pytest.fixture
def supervisor(tenant):
    """carol: supervisor of Acme, no admin role."""
    return member(tenant=tenant, email="carol@acme.test", care_profile=CareProfile.SUPERVISOR)


@pytest.fixture
def team(tenant):
    return TeamFactory(tenant=tenant, name="Support")


@pytest.fixture
def agent(tenant, team):
    """bob: an agent of Acme in the Support team."""
    user = member(tenant=tenant, email="bob@acme.test", care_profile=CareProfile.AGENT)
    return AgentFactory(tenant=tenant, user=user, team=team, display_name="Bob")


@pytest.fixture
def outsider(other_tenant):
    """mallory: full admin of Globex, a stranger to Acme."""
    return member(tenant=other_tenant, email="mallory@globex.test", admin_role=AdminRole.FULL_ADMIN)


@pytest.fixture
def api():
    """An API client; call api.force_authenticate(user) or use api_as(user)."""
    return APIClient()


@pytest.fixture
def api_as():
    def make(user) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make


# Property-based tests draw a bounded number of examples in CI; HYPOTHESIS_PROFILE=deep searches
# longer locally. Fixed seeds (derandomize) keep a CI failure reproducible.
hypothesis_settings.register_profile(
    "ci",
    max_examples=50,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
hypothesis_settings.register_profile(
    "deep", max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck)
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
