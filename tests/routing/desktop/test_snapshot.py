"""The desktop's snapshot: read in one statement on PostgreSQL, the same as the ORM reads it."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from channels_app.models import Conversation, Message
from routing.desktop.selectors import _snapshot_portable, _snapshot_sql, desktop_agent
from routing.models import Offer
from tenants.models import IdleCode, WrapUpCode
from tests.routing.factories import make_agent, make_conversation, make_team

pytestmark = pytest.mark.django_db(transaction=True)


def _without_clock(snapshot: dict) -> dict:
    return {key: value for key, value in snapshot.items() if key != "server_time"}


def _owned(desk, agent, *, text: str, minutes_ago: int) -> Conversation:
    conversation = make_conversation(
        tenant=desk.tenant, kind="whatsapp", asset=desk.asset, customer_name="", text=text
    )
    Conversation.objects.filter(pk=conversation.pk).update(
        owner=agent, last_message_at=timezone.now() - timedelta(minutes=minutes_ago)
    )
    return conversation


def test_the_one_statement_snapshot_is_the_orm_snapshot(desk, other_tenant):
    for name in ("Pause", "Meeting"):
        IdleCode.objects.create(tenant=desk.tenant, name=name)
    WrapUpCode.objects.create(tenant=desk.tenant, name="Resolved")
    IdleCode.objects.create(tenant=other_tenant, name="Elsewhere")
    desk.available(desk.first)
    offered = desk.waiting(text="x" * 300)
    _owned(desk, desk.first, text="Older one", minutes_ago=30)
    seen = _owned(desk, desk.first, text="Newer one", minutes_ago=5)
    Message.objects.filter(conversation=seen).update(seen_at=timezone.now())
    _owned(desk, desk.second, text="Not theirs", minutes_ago=1)
    theirs = make_agent(tenant=other_tenant, team=make_team(tenant=other_tenant))
    assert Offer.objects.filter(agent=desk.first, status="pending").count() == 1

    fast, slow = _snapshot_sql(agent=desk.first), _snapshot_portable(agent=desk.first)

    assert _without_clock(fast) == _without_clock(slow)
    assert [c["name"] for c in fast["idle_codes"]] == ["Meeting", "Pause"]
    assert [o["conversation_id"] for o in fast["offers"]] == [offered.pk]
    assert len(fast["offers"][0]["preview"]) == 280
    assert [(c["preview"], c["unread"]) for c in fast["conversations"]] == [
        ("Newer one", 0),
        ("Older one", 1),
    ]
    assert fast["conversations"][0]["customer_name"].startswith("Customer ")
    # The outsider's snapshot shows nothing of Acme.
    outsider = _snapshot_sql(agent=theirs)
    assert (outsider["agent"]["tenant"], outsider["idle_codes"]) == (
        other_tenant.name,
        [{"id": IdleCode.objects.get(name="Elsewhere").pk, "name": "Elsewhere"}],
    )
    assert (outsider["offers"], outsider["conversations"], outsider["wrap_up_codes"]) == (
        [],
        [],
        [],
    )


def test_an_agent_who_never_changed_state_is_signed_out(desk):
    snapshot = _snapshot_sql(agent=desk.second)

    assert snapshot["state"]["state"] == "signed_out"
    assert snapshot["state"]["idle_code_id"] is None
    assert (
        _without_clock(snapshot)["state"]["state"]
        == _snapshot_portable(agent=desk.second)["state"]["state"]
    )


def test_connecting_reads_the_agent_and_the_snapshot_in_two_statements(desk):
    desk.available(desk.first)

    with CaptureQueriesContext(connection) as ctx:
        agent = desktop_agent(user=desk.first.user, chosen_tenant_id=None)
        snapshot = _snapshot_sql(agent=agent)

    assert agent == desk.first
    assert snapshot["agent"] == {
        "id": desk.first.pk,
        "name": str(desk.first),
        "tenant": desk.tenant.name,
    }
    assert len(ctx.captured_queries) == 2
