"""The REST API against its own schema: generated requests (valid and invalid), sent as Acme's
full admin, never get a 5xx.

One test walks every operation with a few examples each, so the whole API costs one database
setup and stays well inside the normal suite. For longer searches locally, raise
SCHEMA_FUZZ_EXAMPLES (see the README)."""

import os

import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections, transaction
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode

EXAMPLES = int(os.environ.get("SCHEMA_FUZZ_EXAMPLES", "3"))


def _schema():
    loaded = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
    loaded.app = WSGIHandler()
    return loaded


def test_no_operation_answers_a_server_error(owner, outsider):
    # Requests run inside the test's transaction, as Django's own test client runs them.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        failures = _walk(token=Token.objects.create(user=owner).key)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    assert failures == []


def _walk(*, token: str) -> list[str]:
    failures: list[str] = []
    headers = {"Authorization": f"Token {token}"}
    for result in _schema().get_all_operations():
        operation = result.ok()
        for mode in GenerationMode:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def send(case):
                with transaction.atomic():
                    response = case.call(headers=headers)
                    if response.status_code >= 500:
                        transaction.set_rollback(True)
                        failures.append(
                            f"{case.method} {case.formatted_path} ({mode.value}): "
                            f"{response.status_code} {response.text[:200]}"
                        )

            try:
                send()
            except Unsatisfiable:
                # An operation with nothing to get wrong (no parameters, no body) has no
                # invalid requests to generate.
                if mode is GenerationMode.POSITIVE:
                    raise
    return failures
