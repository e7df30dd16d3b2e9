"""The demo supervisor's scope and a week of closed conversations for the care console (idempotent,
called by demo_seed). history_generate also feeds bench/care_console.py."""

import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from care_console.models import SupervisorScope
from channels_app.models import (
    MEDIA_TYPE_OF_KIND,
    AuthorKind,
    ChannelAsset,
    Conversation,
    Customer,
    CustomerIdentity,
    DeliveryStatus,
    Direction,
    Message,
)
from routing.models import Queue, Task, TaskEvent, TaskStatus
from tenants.models import Agent, Team, Tenant

HISTORY_MARK = "history"
FIRST = ("Dana", "Erik", "Fay", "Gus", "Hanna", "Ilse", "Jon", "Kemal", "Lea", "Mo", "Nora", "Ole")
LAST = ("Becker", "Schmidt", "Yilmaz", "Novak", "Rossi", "Meyer", "Kaya", "Wolf", "Berg", "Lang")
TOPICS = (
    ("Mein Paket ist nicht angekommen", "Sendungsnummer {n} zeigt seit Tagen keine Bewegung"),
    ("Ich möchte meine Bestellung stornieren", "Bestellung {n} bitte stornieren"),
    ("Die Rechnung ist doppelt abgebucht", "Rechnung {n} wurde zweimal belastet"),
    ("Wie ändere ich meine Adresse?", "Neue Adresse für Kundennummer {n}"),
    ("Der Artikel ist beschädigt", "Foto vom Schaden an Artikel {n}"),
)
WRAP_UPS = ("Resolved", "Resolved", "Resolved", "Follow-up needed", "Spam")


def history_generate(
    *,
    tenant: Tenant,
    count: int,
    days: int = 7,
    seed: int = 7,
    messages_per_conversation: int = 3,
    batch: int = 5000,
) -> int:
    """count closed conversations over the last days, each with messages and a routing timeline
    (queued, offered, sometimes RONA and offered again, accepted, closed), or abandoned while
    waiting. Written in bulk; returns how many conversations it made."""
    rng = random.Random(seed)
    assets = list(ChannelAsset.objects.filter(tenant=tenant).order_by("pk"))
    queues = list(Queue.objects.filter(tenant=tenant).order_by("pk"))
    agents = list(Agent.objects.filter(tenant=tenant).order_by("pk"))
    if not (assets and queues and agents):
        return 0
    now = timezone.now()
    pool = min(count, 2000)
    customers = Customer.objects.bulk_create(
        [
            Customer(tenant=tenant, display_name=f"{rng.choice(FIRST)} {rng.choice(LAST)}")
            for _ in range(pool)
        ],
        batch_size=batch,
    )
    asset_of = [rng.choice(assets) for _ in range(pool)]
    identities = CustomerIdentity.objects.bulk_create(
        [
            CustomerIdentity(
                tenant=tenant,
                customer=customers[i],
                kind=asset_of[i].kind,
                address=f"{HISTORY_MARK}-{seed}-{customers[i].pk}",
            )
            for i in range(pool)
        ],
        batch_size=batch,
    )
    made = 0
    for start in range(0, count, batch):
        size = min(batch, count - start)
        plans = []
        for _ in range(size):
            i = rng.randrange(pool)
            opened = now - timedelta(seconds=rng.randrange(days * 86400))
            media = MEDIA_TYPE_OF_KIND[asset_of[i].kind]
            queue = rng.choice([q for q in queues if q.channel_type == media] or queues)
            abandoned = rng.random() < 0.08
            wait = rng.choice((5, 12, 25, 40, 55, 80, 150, 400)) + rng.random()
            handle = rng.randrange(90, 2400)
            agent = rng.choice(agents)
            rona = None if abandoned or rng.random() > 0.1 else rng.choice(agents)
            topic = rng.choice(TOPICS)
            plans.append((i, opened, queue, abandoned, wait, handle, agent, rona, topic))
        conversations = Conversation.objects.bulk_create(
            [
                Conversation(
                    tenant=tenant,
                    asset=asset_of[i],
                    customer=customers[i],
                    identity=identities[i],
                    kind=asset_of[i].kind,
                    status=Conversation.Status.CLOSED,
                    owner=None if abandoned else agent,
                    variables={
                        "order_total": rng.randrange(10, 400),
                        "segment": rng.choice(("gold", "silver", "bronze")),
                    },
                    wrap_up_code="" if abandoned else rng.choice(WRAP_UPS),
                    opened_at=opened,
                    last_message_at=opened + timedelta(seconds=wait + handle),
                    closed_at=opened + timedelta(seconds=wait + (0 if abandoned else handle)),
                    close_reason="inactivity" if abandoned else "agent",
                )
                for i, opened, queue, abandoned, wait, handle, agent, rona, topic in plans
            ],
            batch_size=batch,
        )
        messages, tasks = [], []
        for c, (i, opened, queue, abandoned, wait, handle, agent, rona, topic) in zip(
            conversations, plans, strict=True
        ):
            n = rng.randrange(10000, 99999)
            texts = [topic[0], topic[1].format(n=n), "Danke!", "Gern geschehen."]
            for k in range(1 if abandoned else messages_per_conversation):
                inbound = k % 2 == 0
                messages.append(
                    Message(
                        tenant=tenant,
                        conversation=c,
                        asset=c.asset,
                        direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
                        author_kind=AuthorKind.CUSTOMER if inbound else AuthorKind.AGENT,
                        author_agent=None if inbound else agent,
                        text=texts[k % len(texts)],
                        status=DeliveryStatus.RECEIVED if inbound else DeliveryStatus.READ,
                        created_at=opened + timedelta(seconds=k * 30),
                    )
                )
            assigned = None if abandoned else opened + timedelta(seconds=wait)
            tasks.append(
                Task(
                    tenant=tenant,
                    conversation=c,
                    queue=queue,
                    channel_type=queue.channel_type,
                    status=TaskStatus.CLOSED,
                    enqueued_at=opened,
                    queue_entered_at=opened,
                    agent=None if abandoned else agent,
                    assigned_at=assigned,
                    closed_at=c.closed_at,
                    close_reason="inactivity" if abandoned else "conversation_closed",
                )
            )
        Message.objects.bulk_create(messages, batch_size=batch)
        tasks = Task.objects.bulk_create(tasks, batch_size=batch)
        events = []
        for task, (i, opened, queue, abandoned, wait, handle, agent, rona, topic) in zip(
            tasks, plans, strict=True
        ):
            events.append(
                TaskEvent(tenant=tenant, task=task, kind="queued", at=opened, queue=queue)
            )
            if rona is not None:
                events.append(
                    TaskEvent(tenant=tenant, task=task, kind="offered", at=opened, agent=rona)
                )
                events.append(
                    TaskEvent(tenant=tenant, task=task, kind="rona", at=opened, agent=rona)
                )
            if not abandoned:
                events.append(
                    TaskEvent(
                        tenant=tenant, task=task, kind="offered", at=task.assigned_at, agent=agent
                    )
                )
                events.append(
                    TaskEvent(
                        tenant=tenant,
                        task=task,
                        kind="accepted",
                        at=task.assigned_at,
                        agent=agent,
                        queue=queue,
                        data={
                            "wait_seconds": round(wait, 3),
                            "within_service_level": wait <= queue.service_level_seconds,
                        },
                    )
                )
            events.append(
                TaskEvent(
                    tenant=tenant,
                    task=task,
                    kind="closed",
                    at=task.closed_at,
                    agent=task.agent,
                    queue=queue,
                    data={"reason": task.close_reason},
                )
            )
        TaskEvent.objects.bulk_create(events, batch_size=batch)
        made += size
    return made


@transaction.atomic
def seed(*, tenant: Tenant, people) -> list[str]:
    scope, _ = SupervisorScope.objects.get_or_create(tenant=tenant, user=people.supervisor)
    scope.teams.add(*Team.objects.filter(tenant=tenant))
    scope.queues.add(*Queue.objects.filter(tenant=tenant))
    if not CustomerIdentity.objects.filter(
        tenant=tenant, address__startswith=f"{HISTORY_MARK}-"
    ).exists():
        history_generate(tenant=tenant, count=60)
    return [
        f"care:       {people.supervisor.email} supervises every team and queue -> /care/ "
        "(a week of past conversations for transcripts and reports)"
    ]
