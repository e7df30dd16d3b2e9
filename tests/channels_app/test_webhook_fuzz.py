"""Every provider's webhook under generated input: random JSON shapes, fixtures with one part
replaced by something of the wrong type, huge strings, bytes that are not UTF-8, gzip garbage.

Half the examples are signed correctly, so the parser behind the signature check is reached.
Whatever arrives, the answer is a 2xx or a 4xx, never a 5xx: unsigned is a 403, signed but
unreadable is a 400 with a dead letter kept, and every event that was stored is then processed
to a final state (processed, ignored or dead) without an exception.

Examples are bounded by the hypothesis profile (tests/conftest.py): "ci" by default, "deep"
(HYPOTHESIS_PROFILE=deep) for a longer search."""

import copy
import gzip
import hashlib
import hmac
import io
import json
import secrets
import time
from urllib.parse import urlencode

import pytest
from django.db import transaction
from django.http import QueryDict
from hypothesis import given
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from channels_app.models import ChannelKind, InboundEvent
from channels_app.providers.apple import auth
from channels_app.services import inbound_event_process
from tests.channels_app.conftest import load_fixture, post_meta, webhook_url
from tests.channels_app.email_support import SIGNING_KEY, mail
from tests.channels_app.test_apple import apple_asset  # noqa: F401 - the fixture
from tests.channels_app.test_livechat import ORIGIN, widget  # noqa: F401 - the fixture
from tests.factories import ChannelAssetFactory

FINAL = {InboundEvent.Status.PROCESSED, InboundEvent.Status.IGNORED, InboundEvent.Status.DEAD}

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    # Lone surrogates: JSON may escape them ("\\ud800"), UTF-8 cannot carry them.
    | st.text(alphabet=st.characters(blacklist_categories=()), max_size=8)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
# Huge strings: a long run of one character (cheap to generate, expensive to mishandle).
huge_strings = st.builds(lambda c, n: c * n, st.characters(), st.integers(10_000, 200_000))
replacements = json_values | huge_strings


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


@st.composite
def mutated(draw, documents: list):
    """A real-shaped document with one part (anywhere, the whole included) replaced."""
    document = copy.deepcopy(draw(st.sampled_from(documents)))
    paths = list(_paths(document))
    path = draw(st.sampled_from(paths))
    value = draw(replacements)
    if not path:
        return value
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return document


def json_bodies(documents: list):
    """JSON bodies as bytes, now and then in another encoding or with bytes that are not UTF-8."""
    documents_as_sent = st.sampled_from(documents)
    encoded = st.builds(
        lambda doc: json.dumps(doc).encode(), mutated(documents) | documents_as_sent | json_values
    )
    return st.one_of(
        encoded,
        encoded,
        encoded,
        encoded.map(lambda body: body.decode().encode("utf-16")),
        st.tuples(encoded, st.binary(min_size=1, max_size=8)).map(
            lambda pair: pair[0][:-1] + b"\xff\xfe" + pair[1] + pair[0][-1:]
        ),
        st.binary(max_size=300),
    )


@pytest.fixture
def run(client, django_capture_on_commit_callbacks):
    """Sends one example inside a savepoint that is rolled back, so examples do not meet, and
    processes whatever it stored the way the worker would."""

    def send(post, *, signed: bool):
        with transaction.atomic():
            before = set(InboundEvent.objects.values_list("pk", flat=True))
            response = post()
            status = response.status_code
            assert status < 500, response.content[:500]
            if not signed:
                assert status == 403, response.content[:200]
                send.outcomes.add("refused")
            elif status == 400:
                dead = InboundEvent.objects.exclude(pk__in=before).get()
                assert dead.status == InboundEvent.Status.DEAD and dead.error
                send.outcomes.add("dead letter")
            else:
                assert 200 <= status < 300, response.content[:200]
                send.outcomes.add("accepted")
            for event in InboundEvent.objects.exclude(pk__in=before).filter(
                status=InboundEvent.Status.PENDING
            ):
                with django_capture_on_commit_callbacks(execute=False):
                    assert inbound_event_process(event_id=event.pk) in FINAL
            transaction.set_rollback(True)
        return status

    # What the examples reached: a search that never got past the signature proves nothing.
    send.outcomes = set()
    return send


def _meta_case(run, client, asset, documents):
    @given(body=json_bodies(documents), signed=st.booleans())
    def case(body, signed):
        run(
            lambda: post_meta(client, asset, body, signature=None if signed else "sha256=00"),
            signed=signed,
        )

    case()
    assert run.outcomes == {"refused", "dead letter", "accepted"}


def test_whatsapp_answers_any_body_with_a_2xx_or_4xx(run, client, whatsapp_asset):
    names = ("text", "image", "location", "interactive", "status_failed", "two_messages")
    _meta_case(run, client, whatsapp_asset, [load_fixture("whatsapp", n) for n in names])


def test_messenger_answers_any_body_with_a_2xx_or_4xx(run, client, messenger_asset):
    names = ("text", "image", "postback", "quick_reply", "read", "delivery")
    _meta_case(run, client, messenger_asset, [load_fixture("messenger", n) for n in names])


def test_sms_answers_any_form_with_a_2xx_or_4xx(run, client, sms_asset):
    forms = [load_fixture("sms", n) for n in ("text", "mms", "status_delivered")]
    as_form = st.builds(
        lambda doc: urlencode(
            doc if isinstance(doc, dict) else {"Body": doc}, doseq=False
        ).encode(),
        mutated(forms),
    )
    bodies = as_form | st.binary(max_size=300) | st.text(max_size=200).map(str.encode)
    url = f"http://testserver{webhook_url(sms_asset)}"

    @given(body=bodies, signed=st.booleans())
    def case(body, signed):
        # Signed over the parameters exactly as the server parses the body.
        signature = RequestValidator(sms_asset.auth_token).compute_signature(
            url, QueryDict(body, encoding="utf-8")
        )
        run(
            lambda: client.post(
                webhook_url(sms_asset),
                data=body,
                content_type="application/x-www-form-urlencoded",
                headers={"X-Twilio-Signature": signature if signed else "forged"},
            ),
            signed=signed,
        )

    case()
    assert run.outcomes == {"refused", "dead letter", "accepted"}


def test_email_answers_any_mime_with_a_2xx_or_4xx(run, client, webhook_asset):
    printable = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=200)
    mails = st.one_of(
        st.builds(lambda text, subject: mail(text=text, subject=subject), printable, printable),
        st.binary(max_size=400),
        st.just(b""),
        st.builds(lambda raw, junk: raw[: len(raw) // 2] + junk, st.just(mail()), st.binary()),
        huge_strings.map(lambda s: mail(text=s)),
    )

    @given(raw=mails, signed=st.booleans(), extra=st.dictionaries(st.text(max_size=8), st.text()))
    def case(raw, signed, extra):
        token = secrets.token_hex(25)
        timestamp = str(int(time.time()))
        signature = hmac.new(
            SIGNING_KEY.encode(), f"{timestamp}{token}".encode(), hashlib.sha256
        ).hexdigest()
        upload = io.BytesIO(raw)
        upload.name = "message.mime"
        form = {
            **{k: v for k, v in extra.items() if k and "\x00" not in k + v},
            "timestamp": timestamp,
            "token": token,
            "signature": signature if signed else "0" * 64,
            "body-mime": upload,
        }
        run(lambda: client.post(webhook_url(webhook_asset), data=form), signed=signed)

    case()
    assert run.outcomes == {"refused", "dead letter", "accepted"}


def test_email_answers_a_body_that_is_not_a_form_with_a_4xx(run, client, webhook_asset):
    @given(body=st.binary(max_size=400))
    def case(body):
        run(
            lambda: client.post(
                webhook_url(webhook_asset),
                data=body,
                content_type="multipart/form-data; boundary=xyz",
            ),
            signed=False,
        )

    case()


def _gzip_garbage():
    return st.one_of(
        st.binary(max_size=200).map(lambda b: b"\x1f\x8b" + b),
        st.tuples(st.binary(max_size=400), st.integers(0, 60)).map(
            lambda pair: gzip.compress(pair[0])[: max(2, pair[1])]
        ),
        st.binary(max_size=400).map(gzip.compress),
    )


def test_apple_answers_any_body_with_a_2xx_or_4xx(run, client, apple_asset):  # noqa: F811
    fixtures = [
        load_fixture("apple", n)
        for n in ("text", "attachment", "list_picker_reply", "form_reply", "close")
    ]
    headers_of = {json.dumps(f["body"]): f["headers"] for f in fixtures}
    bodies = [f["body"] for f in fixtures]
    json_or_gzip = st.one_of(
        json_bodies(bodies),
        json_bodies(bodies),
        _gzip_garbage(),
        json_bodies(bodies).map(gzip.compress),
    )
    fixture_headers = st.sampled_from(list(headers_of.values()))

    @given(
        body=json_or_gzip,
        signed=st.booleans(),
        headers=fixture_headers
        | fixture_headers
        | st.dictionaries(
            st.sampled_from(["id", "source-id", "capability-list", "locale"]),
            st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
        ),
    )
    def case(body, signed, headers):
        token = auth.token(secret=apple_asset.apple_msp_secret, audience=apple_asset.apple_msp_id)
        sent = {**headers, "Authorization": f"Bearer {token if signed else token[:-4] + 'AAAA'}"}
        run(
            lambda: client.post(
                webhook_url(apple_asset), data=body, content_type="application/json", headers=sent
            ),
            signed=signed,
        )

    case()
    assert run.outcomes == {"refused", "dead letter", "accepted"}


def test_live_chat_endpoints_answer_any_body_with_a_2xx_or_4xx(
    client,
    widget,  # noqa: F811 - the fixture
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        token = client.post(
            f"/livechat/{widget.widget_id}/session",
            "{}",
            content_type="application/json",
            headers={"Origin": ORIGIN},
        ).json()["token"]
    shaped = st.fixed_dictionaries(
        {},
        optional={
            "token": st.just(token) | json_values,
            "client_id": json_values | huge_strings,
            "text": json_values | huge_strings,
            "name": json_values,
            "email": json_values,
            "user_id": json_values,
            "user_signature": json_values,
        },
    )
    bodies = st.builds(lambda d: json.dumps(d).encode(), shaped | json_values) | st.binary(
        max_size=200
    )

    @given(body=bodies, what=st.sampled_from(["session", "messages", "transcript"]))
    def case(body, what):
        with transaction.atomic(), django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                f"/livechat/{widget.widget_id}/{what}",
                data=body,
                content_type="application/json",
                headers={"Origin": ORIGIN},
            )
            assert response.status_code < 500, response.content[:300]
            transaction.set_rollback(True)

    case()


def test_an_unknown_channel_kind_or_asset_is_a_404(client, tenant):
    asset = ChannelAssetFactory(tenant=tenant, kind=ChannelKind.WHATSAPP)
    for kind in ("fax", "messenger"):
        url = f"/webhooks/{kind}/{asset.uuid}/"
        assert client.post(url, data=b"{}", content_type="application/json").status_code == 404
