"""A small contact center whose figures are counted by hand (see each test), at a frozen clock.

Acme has two teams, Support (Ann, Ben) and Sales (Cat), and a chat queue each. carol supervises
Support and its queue only; alice (full admin) sees everything; mallory is the outsider.
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client

from care_console.models import SupervisorScope
from channels_app.models import AuthorKind, Conversation, DeliveryStatus, Direction, Message
from routing.models import AgentState, Offer, OfferStatus, Task, TaskEvent, TaskStatus
from tests.routing.factories import make_agent, make_conversation, make_queue, make_team

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def at(hh: int, mm: int, ss: int = 0, day: int = 10) -> datetime:
    return datetime(2026, 3, day, hh, mm, ss, tzinfo=UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def routed(conversation, queue, *, enqueued, agent=None, assigned=None, closed=None, reason=""):
    """A task with its timeline as routing would have written it."""
    status = (
        TaskStatus.CLOSED if closed else TaskStatus.ASSIGNED if assigned else TaskStatus.WAITING
    )
    task = Task.objects.create(
        tenant=queue.tenant,
        conversation=conversation,
        queue=queue,
        channel_type=queue.channel_type,
        status=status,
        enqueued_at=enqueued,
        queue_entered_at=enqueued,
        agent=agent if assigned else None,
        assigned_at=assigned,
        closed_at=closed,
        close_reason=reason,
    )
    events = [TaskEvent(tenant=queue.tenant, task=task, kind="queued", at=enqueued, queue=queue)]
    if assigned:
        events.append(
            TaskEvent(tenant=queue.tenant, task=task, kind="offered", at=enqueued, agent=agent)
        )
        wait = (assigned - enqueued).total_seconds()
        events.append(
            TaskEvent(
                tenant=queue.tenant,
                task=task,
                kind="accepted",
                at=assigned,
                agent=agent,
                queue=queue,
                data={"wait_seconds": wait},
            )
        )
    if closed:
        events.append(
            TaskEvent(
                tenant=queue.tenant, task=task, kind="closed", at=closed, data={"reason": reason}
            )
        )
    TaskEvent.objects.bulk_create(events)
    return task


def conversation(tenant, *, name, opened, text="", owner=None, closed=None, **fields):
    c = make_conversation(tenant=tenant, customer_name=name)
    c.opened_at = opened
    c.owner = owner
    if closed:
        c.status, c.closed_at = Conversation.Status.CLOSED, closed
    for key, value in fields.items():
        setattr(c, key, value)
    c.save()
    if text:
        Message.objects.create(
            tenant=tenant,
            conversation=c,
            asset=c.asset,
            direction=Direction.INBOUND,
            author_kind=AuthorKind.CUSTOMER,
            text=text,
            status=DeliveryStatus.RECEIVED,
            created_at=opened,
        )
    return c


class Center:
    pass


@pytest.fixture
def center(tenant, owner, supervisor, outsider, frozen):
    cc = Center()
    cc.tenant = tenant
    cc.support = make_team(tenant=tenant, name="Support desk", max_chat=3)
    cc.sales = make_team(tenant=tenant, name="Sales")
    cc.queue = make_queue(tenant=tenant, teams=[cc.support], name="Support chat")
    cc.sales_queue = make_queue(tenant=tenant, teams=[cc.sales], name="Sales chat")
    cc.ann = make_agent(tenant=tenant, team=cc.support, name="Ann")
    cc.ben = make_agent(tenant=tenant, team=cc.support, name="Ben")
    cc.cat = make_agent(tenant=tenant, team=cc.sales, name="Cat")
    scope = SupervisorScope.objects.create(tenant=tenant, user=supervisor)
    scope.teams.set([cc.support])
    scope.queues.set([cc.queue])

    c = cc.conversations = {}
    c["dana"] = conversation(
        tenant,
        name="Dana Example",
        opened=at(11, 0),
        text="I need a refund for order 4711",
        owner=cc.ann,
        variables={"segment": "gold", "order_total": 25},
    )
    c["erik"] = conversation(
        tenant,
        name="Erik Sample",
        opened=at(11, 10),
        text="Where is my parcel?",
        owner=cc.ben,
        closed=at(11, 30),
        wrap_up_code="Resolved",
        variables={"segment": "gold", "order_total": 40},
    )
    c["fay"] = conversation(
        tenant, name="Fay Gone", opened=at(11, 20), text="hello?", closed=at(11, 25)
    )
    c["gus"] = conversation(tenant, name="Gus Waiting", opened=at(11, 50), text="anyone there")
    c["hal"] = conversation(tenant, name="Hal Waiting", opened=at(11, 55), text="second in line")
    c["ida"] = conversation(
        tenant,
        name="Ida Yesterday",
        opened=at(10, 0, day=9),
        text="refund again please",
        owner=cc.ben,
        closed=at(10, 30, day=9),
        wrap_up_code="Follow-up needed",
        variables={"segment": "silver", "order_total": "20"},
    )
    c["zed"] = conversation(tenant, name="Zed Sales", opened=at(11, 58), text="buy refund plan")

    cc.t = {
        "dana": routed(
            c["dana"], cc.queue, enqueued=at(11, 0), agent=cc.ann, assigned=at(11, 0, 30)
        ),
        "erik": routed(
            c["erik"],
            cc.queue,
            enqueued=at(11, 10),
            agent=cc.ben,
            assigned=at(11, 12),
            closed=at(11, 30),
            reason="conversation_closed",
        ),
        "fay": routed(
            c["fay"], cc.queue, enqueued=at(11, 20), closed=at(11, 25), reason="inactivity"
        ),
        "gus": routed(c["gus"], cc.queue, enqueued=at(11, 50)),
        "hal": routed(c["hal"], cc.queue, enqueued=at(11, 55)),
        "ida": routed(
            c["ida"],
            cc.queue,
            enqueued=at(10, 0, day=9),
            agent=cc.ben,
            assigned=at(10, 0, 10, day=9),
            closed=at(10, 30, day=9),
            reason="conversation_closed",
        ),
        "zed": routed(c["zed"], cc.sales_queue, enqueued=at(11, 58)),
    }
    # Ann: available since 11:45, one conversation and one pending offer (Hal), RONA once today
    # and once yesterday. Ben never set a state.
    AgentState.objects.create(
        agent=cc.ann,
        tenant=tenant,
        team=cc.support,
        state="available",
        state_since=at(11, 45),
        available_since=at(11, 45),
        engaged_chat=2,
        max_chat=3,
        max_email=1,
        max_social=3,
    )
    hal = cc.t["hal"]
    hal.status = TaskStatus.OFFERED
    hal.save(update_fields=["status"])
    Offer.objects.create(
        tenant=tenant,
        task=hal,
        agent=cc.ann,
        channel_type="chat",
        status=OfferStatus.PENDING,
        expires_at=at(12, 0, 30),
    )
    TaskEvent.objects.create(
        tenant=tenant, task=cc.t["gus"], kind="rona", at=at(11, 40), agent=cc.ann
    )
    TaskEvent.objects.create(
        tenant=tenant, task=cc.t["ida"], kind="rona", at=at(9, 59, day=9), agent=cc.ann
    )
    return cc


@pytest.fixture
def client_for():
    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


def day_range(**extra) -> dict:
    return {"date_from": "2026-03-09", "date_to": "2026-03-10", **extra}


def later(minutes: int) -> datetime:
    return NOW + timedelta(minutes=minutes)
