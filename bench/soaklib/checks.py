"""What the run must have kept, read from the database and the fake provider's records (never
from logs). Each check returns (name, counted, violations)."""

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

IN_TOKEN = re.compile(r"soak-in-[0-9a-f]{16}")
OUT_TOKEN = re.compile(r"soak-out-[0-9a-f]{16}")


@dataclass
class Check:
    name: str
    counted: str
    violations: list[str] = field(default_factory=list)


def _ts(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def inbound_exactly_once(*, posted: dict[str, str], accepted: set[str]) -> Check:
    from channels_app.models import Direction, Message

    stored = Counter()
    for text in Message.objects.filter(direction=Direction.INBOUND).values_list("text", flat=True):
        stored.update(IN_TOKEN.findall(text))
    check = Check(
        "inbound messages stored exactly once",
        f"{len(accepted)} accepted by a server ({len(posted)} posted), {sum(stored.values())} stored",
    )
    for token in sorted(accepted):
        if stored[token] != 1:
            check.violations.append(f"{posted[token]} message {token} stored {stored[token]} times")
    for token, count in stored.items():
        if token not in accepted and count > 1:
            check.violations.append(f"{token} (never answered 2xx) stored {count} times")
    return check


def conversations_settled(*, now: datetime) -> Check:
    """Every conversation closed, waiting in a queue, owned by an agent, offered to one (pending
    offer), or in its flow waiting for the customer with a timeout not yet passed."""
    from channels_app.models import Conversation, InboundEvent
    from routing.flows.models import FlowRun
    from routing.models import Offer, Task

    conversations = list(Conversation.objects.values("pk", "status", "owner_id"))
    tasks = defaultdict(list)
    for task in Task.objects.values("pk", "conversation_id", "status", "agent_id"):
        tasks[task["conversation_id"]].append(task)
    pending = set(Offer.objects.filter(status="pending").values_list("task_id", flat=True))
    in_flow = dict(
        FlowRun.objects.filter(status="waiting").values_list("conversation_id", "due_at")
    )
    states = Counter()
    check = Check("conversations closed, waiting or owned", "")
    for c in conversations:
        mine = tasks[c["pk"]]
        if c["status"] != "open":
            states["closed"] += 1
            active = [t for t in mine if t["status"] in ("waiting", "offered", "assigned")]
            if active:
                check.violations.append(
                    f"closed conversation {c['pk']} has active task(s) {active}"
                )
            continue
        if c["owner_id"]:
            if any(t["status"] == "assigned" and t["agent_id"] == c["owner_id"] for t in mine):
                states["owned"] += 1
            else:
                check.violations.append(
                    f"conversation {c['pk']} owned by {c['owner_id']} without its task"
                )
            continue
        waiting = [t for t in mine if t["status"] == "waiting"]
        offered = [t for t in mine if t["status"] == "offered"]
        if waiting:
            states["waiting"] += 1
        elif offered and all(t["pk"] in pending for t in offered):
            states["offered"] += 1
        elif offered:
            check.violations.append(f"conversation {c['pk']}: task offered to nobody")
        elif c["pk"] in in_flow:
            due = in_flow[c["pk"]]
            if due is not None and due < now - timedelta(seconds=10):
                check.violations.append(
                    f"conversation {c['pk']}: its flow's wait ran out at {due:%H:%M:%S} and nothing moved"
                )
            else:
                states["in flow"] += 1
        else:
            check.violations.append(
                f"conversation {c['pk']} open with no owner and no task (stuck)"
            )
    unprocessed = InboundEvent.objects.filter(status="pending").count()
    dead = list(InboundEvent.objects.filter(status="dead").values_list("pk", "error")[:5])
    if unprocessed:
        check.violations.append(f"{unprocessed} inbound events never processed")
    for pk, error in dead:
        check.violations.append(f"inbound event {pk} dead-lettered: {error[:120]}")
    check.counted = (
        f"{len(conversations)}: {states['closed']} closed, {states['waiting']} waiting, "
        f"{states['owned']} owned, {states['offered']} offered, "
        f"{states['in flow']} in their flow (waiting for the customer)"
    )
    return check


def no_double_offers(*, now: datetime) -> Check:
    from routing.models import Offer, TaskEvent

    # As for capacity: an offer holds its task from the "offered" event (the pass's start stamps
    # created_at, a little before the task is taken).
    offered_at = dict(
        TaskEvent.objects.filter(kind="offered", offer__isnull=False).values_list("offer_id", "at")
    )
    by_task = defaultdict(list)
    offers = list(Offer.objects.values("pk", "task_id", "agent_id", "created_at", "decided_at"))
    for o in offers:
        o["created_at"] = max(o["created_at"], offered_at.get(o["pk"], o["created_at"]))
        by_task[o["task_id"]].append(o)
    check = Check(
        "no task offered to two agents at once", f"{len(offers)} offers, {len(by_task)} tasks"
    )
    for task_id, rows in by_task.items():
        rows.sort(key=lambda o: (o["created_at"], o["pk"]))
        for earlier, later in zip(rows, rows[1:], strict=False):
            if (earlier["decided_at"] or now) > later["created_at"]:
                check.violations.append(
                    f"task {task_id}: offer {earlier['pk']} to agent {earlier['agent_id']} still "
                    f"pending when offer {later['pk']} to agent {later['agent_id']} was made"
                )
    return check


def capacity_never_exceeded(*, profile: dict[str, int], now: datetime) -> Check:
    """From the history: an agent holds a task from the offer until the offer is decided (not
    accepted) or, once accepted, until the task closes or a supervisor moves it away."""
    from routing.models import Offer, Task, TaskEvent

    tasks = {t["pk"]: t for t in Task.objects.values("pk", "channel_type", "closed_at", "agent_id")}
    moves = defaultdict(list)
    for e in TaskEvent.objects.filter(kind="transferred").values("task_id", "at", "data"):
        moves[e["task_id"]].append(e)
    # The router stamps an offer with the time its pass began; it takes the agent's capacity later
    # in that transaction. The "offered" event is stamped after the capacity is taken.
    offered_at = dict(
        TaskEvent.objects.filter(kind="offered", offer__isnull=False).values_list("offer_id", "at")
    )
    intervals = defaultdict(list)  # (agent, media) -> [(start, end)]
    offers = list(
        Offer.objects.values(
            "pk", "task_id", "agent_id", "status", "created_at", "decided_at", "channel_type"
        )
    )
    for o in offers:
        media = o["channel_type"]
        o["created_at"] = max(o["created_at"], offered_at.get(o["pk"], o["created_at"]))
        if o["status"] != "accepted":
            intervals[(o["agent_id"], media)].append((o["created_at"], o["decided_at"] or now))
            continue
        task = tasks[o["task_id"]]
        holder, since = o["agent_id"], o["created_at"]
        for move in sorted(moves[o["task_id"]], key=lambda e: e["at"]):
            if move["at"] < o["decided_at"] or move["data"].get("from_agent_id") != holder:
                continue
            intervals[(holder, media)].append((since, move["at"]))
            holder, since = move["data"].get("to_agent_id"), move["at"]
        intervals[(holder, media)].append((since, task["closed_at"] or now))
    check = Check(
        "no agent over their multimedia profile's capacity",
        f"{sum(len(v) for v in intervals.values())} holdings of {len({a for a, _ in intervals})} agents",
    )
    for (agent, media), spans in intervals.items():
        points = sorted(
            [(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans], key=lambda p: (p[0], p[1])
        )
        level = peak = 0
        for at, step in points:
            level += step
            if level > peak:
                peak, peak_at = level, at
        if peak > profile[f"max_{media}"]:
            check.violations.append(
                f"agent {agent} held {peak} {media} contacts at {peak_at:%H:%M:%S.%f} "
                f"(profile allows {profile[f'max_{media}']})"
            )
    return check


def replies_sent_once(*, acked: set[str], unknown: set[str], provider_records: list[dict]) -> Check:
    from channels_app.models import Direction, Message

    sent = Counter()
    keys = Counter()
    for record in provider_records:
        text = repr(record.get("payload"))
        sent.update(set(OUT_TOKEN.findall(text)))
        if record.get("idempotency_key"):
            keys[(record["kind"], record["idempotency_key"])] += 1
    stored = Counter()
    status: dict[str, tuple[str, str]] = {}
    for text, state, kind in Message.objects.filter(direction=Direction.OUTBOUND).values_list(
        "text", "status", "conversation__kind"
    ):
        for token in OUT_TOKEN.findall(text):
            stored[token] += 1
            status[token] = (state, kind)
    check = Check(
        "every agent reply sent to the provider exactly once",
        f"{len(acked)} acknowledged ({len(unknown)} with the answer lost), {len(stored)} stored, "
        f"{sum(sent.values())} at the provider, {len(provider_records)} provider sends in all",
    )
    for token in sorted(acked):
        if stored[token] != 1:
            check.violations.append(f"reply {token} acknowledged, stored {stored[token]} times")
    for token, count in stored.items():
        if count != 1:
            if token not in acked:
                check.violations.append(f"reply {token} stored {count} times")
            continue
        state, kind = status[token]
        if kind == "chat":
            continue  # live chat goes to the visitor's socket, not to a provider
        if sent[token] != 1:
            check.violations.append(
                f"{kind} reply {token} sent {sent[token]} times (status {state})"
            )
    for (kind, key), count in keys.items():
        if count > 1:
            check.violations.append(f"{kind} send with idempotency key {key} made {count} times")
    return check


def rona_in_time(
    *, sweep_seconds: float, allowance: float, faults: list[tuple[float, float]]
) -> Check:
    """Each expired offer decided within sweep + allowance of its deadline. A fault that stops
    the sweep (beat, Redis, every worker down: (down at, process back at)) holds the offers due
    meanwhile: the sweep has resumed at the first RONA decided after the process is back (beat
    still has to boot and reconnect), and every offer due before then must be decided within
    sweep + allowance of that moment (none forgotten). How long each fault held the timers is
    reported."""
    from routing.models import Offer

    rows = list(Offer.objects.filter(status="expired").values("pk", "expires_at", "decided_at"))
    decided = sorted(o["decided_at"] for o in rows)
    windows = []
    for down, back in sorted(faults):
        start = _ts(down)
        resumed = next((d for d in decided if d > _ts(back)), None)
        if resumed is not None:
            windows.append((start, resumed))
    late_max = 0.0
    bound = sweep_seconds + allowance
    check = Check("every RONA decided within its timeout + the sweep interval", "")
    for o in rows:
        due = o["expires_at"]
        for start, resumed in windows:
            # The sweep that decides an offer runs within one interval after it is due: an offer
            # due less than an interval before the fault began lost that sweep to the fault too.
            if start - timedelta(seconds=sweep_seconds) <= due <= resumed:
                due = resumed
        late = (o["decided_at"] - due).total_seconds()
        late_max = max(late_max, late)
        if o["decided_at"] < o["expires_at"]:
            early = (o["expires_at"] - o["decided_at"]).total_seconds()
            check.violations.append(f"offer {o['pk']} expired {early:.2f} s early")
        elif late > bound:
            check.violations.append(
                f"offer {o['pk']} due {o['expires_at']:%H:%M:%S.%f} decided {late:.2f} s after "
                f"it was due (bound {bound:.1f} s)"
            )
    held = ", ".join(f"{(r - s).total_seconds():.1f}" for s, r in windows)
    check.counted = (
        f"{len(rows)} expired, latest {late_max:.2f} s after due (bound {bound:.1f} s); "
        f"timers held by faults: {held or 'none due'} s"
    )
    return check


def snapshots_match(*, checks: int, mismatches: list[str]) -> Check:
    return Check(
        "reconnected desktops show the database's state",
        f"{checks} reconnects compared",
        list(mismatches),
    )


def now_utc() -> datetime:
    return datetime.now(tz=UTC) + timedelta(0)
