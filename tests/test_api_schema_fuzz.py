"""The REST API against its own schema: generated requests, as Acme's full admin, never get a 5xx.

A bounded number of examples per operation keeps this inside the normal suite; the README says
how to run longer searches locally (SCHEMA_FUZZ_EXAMPLES)."""

import os

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig

EXAMPLES = int(os.environ.get("SCHEMA_FUZZ_EXAMPLES", "3"))

# Generated examples only (positive and negative), a few per operation; no coverage phase, whose
# case count is not bounded by max_examples.
CONFIG = SchemathesisConfig.from_dict(
    {
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        "generation": {"max-examples": EXAMPLES},
    }
)
schema = schemathesis.openapi.from_dict(
    SchemaGenerator().get_schema(request=None, public=True), config=CONFIG
)
schema.app = WSGIHandler()


@pytest.fixture
def token(owner, outsider) -> str:
    return Token.objects.create(user=owner).key


@pytest.fixture
def _one_connection():
    """Requests run in the test's transaction, as Django's test client does it."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.usefixtures("_one_connection")
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_operation_answers_a_server_error(case, token):
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=[not_a_server_error])
