"""The flow importer under generated input: the shipped templates with one part replaced by a value
of any JSON shape, random JSON, JSON text that is broken or not UTF-8, huge strings.

Through the API, any document is a 201 or a 4xx, never a 5xx; through the service, it is imported
or refused with a ValidationError naming the problem, and a refused document stores nothing."""

import copy
import json

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import given
from hypothesis import strategies as st

from routing.flows import services
from routing.flows.models import Flow, FlowVersion
from routing.flows.templates import template_list, template_load

pytestmark = pytest.mark.django_db

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["start", "queue_task", "send_message", "evaluate", "$", "{{x}}"])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=15,
)
replacements = json_values | st.builds(
    lambda c, n: c * n, st.characters(), st.integers(5_000, 100_000)
)


def _templates() -> list[dict]:
    return [template_load(name) for name in sorted(template_list())]


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


@st.composite
def mutated(draw, documents):
    document = copy.deepcopy(draw(st.sampled_from(documents)))
    for _ in range(draw(st.integers(1, 2))):
        path = draw(st.sampled_from(list(_paths(document))))
        value = draw(replacements)
        if not path:
            document = value
            continue
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = value
    return document


def documents():
    templates = _templates()
    as_objects = mutated(templates) | st.sampled_from(templates) | json_values
    as_text = st.one_of(
        as_objects.map(json.dumps),
        as_objects.map(lambda d: json.dumps(d)[: len(json.dumps(d)) // 2]),
        st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    )
    return as_objects | as_text


def test_the_import_api_answers_any_document_with_a_201_or_a_4xx(api_as, owner, authorized):
    client = api_as(owner)
    seen = set()

    @given(document=documents(), publish=st.booleans())
    def case(document, publish):
        with transaction.atomic():
            response = client.post(
                "/api/v1/flows/import/", {"document": document, "publish": publish}, format="json"
            )
            assert response.status_code < 500, response.content[:500]
            seen.add(response.status_code)
            transaction.set_rollback(True)

    case()
    # The search reached both sides: documents imported and documents refused.
    assert 201 in seen and 400 in seen


def test_the_import_service_imports_or_refuses_with_a_reason_and_stores_nothing_refused(
    tenant, owner, authorized
):
    outcomes = set()

    @given(document=documents())
    def case(document):
        with transaction.atomic():
            try:
                with transaction.atomic():
                    services.flow_import(tenant=tenant, document=document, user=owner)
                outcomes.add("imported")
            except ValidationError as exc:
                assert exc.messages and all(exc.messages)
                assert not Flow.objects.filter(tenant=tenant).exists()
                assert not FlowVersion.objects.filter(tenant=tenant).exists()
                outcomes.add("refused")
            transaction.set_rollback(True)

    case()
    assert outcomes == {"imported", "refused"}


@pytest.mark.parametrize("where", ["name", "description", "node text", "key"])
def test_a_document_holding_a_nul_character_is_refused_with_its_path_not_a_500(
    api_as, owner, authorized, where
):
    """Found by the fuzzer: PostgreSQL's text and jsonb cannot hold NUL, and the insert failed."""
    document = template_load("sms_inbound")
    if where == "name":
        document["name"] = "Inbound\u0000"
    elif where == "description":
        document["description"] = "a\u0000b"
    elif where == "node text":
        document["variables"] = [{"name": "x", "type": "string", "default": "\u0000"}]
    else:
        document["nodes"]["start"]["\u0000"] = 1

    response = api_as(owner).post("/api/v1/flows/import/", {"document": document}, format="json")

    assert response.status_code == 400
    assert "NUL character" in json.dumps(response.json())
    assert not Flow.objects.exists()
