"""Agents on their desktop sockets: they accept offers, reply, close with a wrap-up code, now and
then let an offer run out (RONA) and make themselves available again, and drop their connection
and reconnect. A reconnected desktop's snapshot is compared with the database read just before
the drop and just after the snapshot: the agent does nothing meanwhile, so what may differ between
the two reads is only what others did (the router's offers, the sweep's expiries)."""

import asyncio
import itertools
import json
import random
import time
import uuid
from dataclasses import dataclass, field

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

RONA_SHARE = 0.1  # offers an agent lets run out
DROP_EVERY = (40, 120)  # seconds between an agent's dropped connections


@dataclass
class AgentLedger:
    replies_acked: set[str] = field(default_factory=set)
    replies_unknown: set[str] = field(default_factory=set)  # asked, the answer lost with the socket
    accepted: int = 0
    accept_refused: int = 0
    closed: int = 0
    let_expire: int = 0
    reconnects: int = 0
    snapshot_checks: int = 0
    snapshot_mismatches: list[str] = field(default_factory=list)
    transfers: int = 0
    transfers_refused: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)


def agent_db_view(agent_id: int) -> dict:
    """What the database says the agent's desktop should show: state, pending offers (not yet
    due), open conversations owned."""
    from django.db import close_old_connections
    from django.utils import timezone

    from channels_app.models import Conversation
    from routing.models import AgentState, Offer

    close_old_connections()
    state = AgentState.objects.filter(pk=agent_id).values_list("state", flat=True).first()
    offers = set(
        Offer.objects.filter(
            agent_id=agent_id, status="pending", expires_at__gt=timezone.now()
        ).values_list("pk", flat=True)
    )
    owned = set(
        Conversation.objects.filter(owner_id=agent_id, status="open").values_list("pk", flat=True)
    )
    return {"state": state or "signed_out", "offers": offers, "owned": owned}


class Desk:
    def __init__(
        self,
        *,
        index: int,
        agent_id: int,
        cookie: str,
        ports: list[int],
        wrap_up_code_id: int,
        ledger: AgentLedger,
        rng: random.Random,
        stop: asyncio.Event,
    ):
        self.index = index
        self.agent_id = agent_id
        self.cookie = cookie
        self.ports = ports
        self.port = ports[index % len(ports)]
        self.wrap_up = wrap_up_code_id
        self.ledger = ledger
        self.rng = rng
        self.stop = stop
        self.ws = None
        self.lock = asyncio.Lock()  # held for an action, a reconnect's comparison, a transfer
        self.replies: dict[int, asyncio.Future] = {}
        self.request_ids = itertools.count(1)
        self.owned: set[int] = set()
        self.working: set[int] = set()
        self.handled_offers: set[int] = set()
        self.tasks: set[asyncio.Task] = set()
        self.state = "available"
        self.online = asyncio.Event()
        self.reader: asyncio.Task | None = None
        self.accepting = True

    # --- the socket ----------------------------------------------------------------------------
    async def _open(self) -> dict:
        """Connects (to the other ASGI process when this one does not answer); the snapshot."""
        last = None
        for attempt in range(600):
            port = self.ports[(self.ports.index(self.port) + attempt) % len(self.ports)]
            try:
                ws = await connect(
                    f"ws://127.0.0.1:{port}/ws/desktop/",
                    origin=f"http://127.0.0.1:{port}",
                    additional_headers={"Cookie": f"sessionid={self.cookie}"},
                    open_timeout=20,
                    ping_interval=None,
                    max_queue=None,
                )
                hello = json.loads(await asyncio.wait_for(ws.recv(), timeout=30))
                if hello.get("type") != "snapshot":
                    raise RuntimeError(f"expected a snapshot, got {hello!r}")
                self.ws, self.port = ws, port
                self.reader = asyncio.create_task(self._read(ws))
                return hello["data"]
            except (
                OSError,
                InvalidHandshake,
                InvalidStatus,
                ConnectionClosed,
                TimeoutError,
                asyncio.TimeoutError,
                RuntimeError,
            ) as exc:
                last = exc
                await asyncio.sleep(0.5)
        raise RuntimeError(f"agent {self.agent_id} could not connect: {last!r}")

    async def _read(self, ws) -> None:
        try:
            async for raw in ws:
                frame = json.loads(raw)
                if frame.get("type") == "reply":
                    future = self.replies.pop(frame.get("request_id"), None)
                    if future is not None and not future.done():
                        future.set_result(frame)
                elif frame.get("type") == "event":
                    self._event(frame.get("event", ""), frame.get("payload") or {})
        except ConnectionClosed:
            pass
        finally:
            for future in self.replies.values():
                if not future.done():
                    future.set_exception(ConnectionError("socket closed"))
            self.replies.clear()
            if self.ws is ws:
                self.online.clear()
                if not self.stop.is_set():
                    self._spawn(self._reconnect(dropped_by_server=True))

    async def act(self, action: str, **params) -> dict:
        """One action and its reply, once the desktop is online (never across a reconnect's
        comparison); ConnectionError when the socket went away with the question asked."""
        while True:
            await self.online.wait()
            async with self.lock:
                if not self.online.is_set():
                    continue
                return await self._ask(action, params)

    async def _ask(self, action: str, params: dict) -> dict:
        request_id = next(self.request_ids)
        future = asyncio.get_running_loop().create_future()
        self.replies[request_id] = future
        try:
            await self.ws.send(
                json.dumps({"action": action, "request_id": request_id, "params": params})
            )
        except ConnectionClosed as exc:
            self.replies.pop(request_id, None)
            raise ConnectionError("socket closed") from exc
        return await asyncio.wait_for(future, timeout=60)

    def _spawn(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _count(self, what: str) -> None:
        self.ledger.errors[what] = self.ledger.errors.get(what, 0) + 1

    # --- what arrives --------------------------------------------------------------------------
    def _event(self, event: str, payload: dict) -> None:
        if event == "routing.offered" and payload.get("agent_id") == self.agent_id:
            self._offer(payload.get("offer_id"))
        elif event == "routing.agent_state" and payload.get("agent_id") == self.agent_id:
            self.state = payload.get("state", self.state)
            if self.state == "rona":
                self._spawn(self._back_from_rona())
        elif event == "conversation.transferred":
            conversation = payload.get("conversation_id")
            if payload.get("to_agent_id") == self.agent_id:
                self._work_on(conversation)
            else:
                self.owned.discard(conversation)

    def _offer(self, offer_id) -> None:
        if not isinstance(offer_id, int) or offer_id in self.handled_offers or not self.accepting:
            return
        self.handled_offers.add(offer_id)
        if self.rng.random() < RONA_SHARE:
            self.ledger.let_expire += 1
            return
        self._spawn(self._accept(offer_id))

    async def _accept(self, offer_id: int) -> None:
        await asyncio.sleep(self.rng.uniform(0.2, 2.0))
        try:
            reply = await self.act("accept_offer", offer_id=offer_id)
        except (ConnectionError, TimeoutError, asyncio.TimeoutError):
            return  # the snapshot after the reconnect shows what became of it
        if reply.get("ok"):
            self.ledger.accepted += 1
            self._work_on(reply["data"]["conversation_id"])
        else:
            self.ledger.accept_refused += 1

    async def _back_from_rona(self) -> None:
        await asyncio.sleep(self.rng.uniform(1, 4))
        try:
            reply = await self.act("set_state", state="available")
            if reply.get("ok"):
                self.state = "available"
        except (ConnectionError, TimeoutError, asyncio.TimeoutError):
            pass

    def _work_on(self, conversation_id) -> None:
        if not isinstance(conversation_id, int):
            return
        self.owned.add(conversation_id)
        if conversation_id not in self.working:
            self.working.add(conversation_id)
            self._spawn(self._conversation(conversation_id))

    async def _conversation(self, conversation_id: int) -> None:
        """Replies once or twice, then closes with the wrap-up code (unless it moved away)."""
        try:
            for _ in range(self.rng.choice((1, 1, 2))):
                await asyncio.sleep(self.rng.uniform(1, 5))
                if conversation_id not in self.owned:
                    return
                token = f"soak-out-{uuid.uuid4().hex[:16]}"
                try:
                    reply = await self.act(
                        "send_message", conversation_id=conversation_id, text=f"Antwort {token}"
                    )
                except (ConnectionError, TimeoutError, asyncio.TimeoutError):
                    self.ledger.replies_unknown.add(token)
                    continue
                if reply.get("ok"):
                    self.ledger.replies_acked.add(token)
                elif reply.get("error") == "not found":
                    return  # moved to another agent or closed
                else:
                    self._count(f"send_message: {reply.get('error')}")
            await asyncio.sleep(self.rng.uniform(1, 4))
            while conversation_id in self.owned and not self.stop.is_set():
                try:
                    reply = await self.act(
                        "close_conversation",
                        conversation_id=conversation_id,
                        wrap_up_code_id=self.wrap_up,
                    )
                except (ConnectionError, TimeoutError, asyncio.TimeoutError):
                    await asyncio.sleep(1)
                    continue
                if reply.get("ok"):
                    self.ledger.closed += 1
                elif reply.get("error") != "not found":
                    self._count(f"close_conversation: {reply.get('error')}")
                self.owned.discard(conversation_id)
        finally:
            self.working.discard(conversation_id)

    # --- connection drops ----------------------------------------------------------------------
    async def _reconnect(self, *, dropped_by_server: bool) -> None:
        """Reconnects and compares the snapshot with the database (see the module's docstring)."""
        async with self.lock:
            self.online.clear()
            before = await asyncio.to_thread(agent_db_view, self.agent_id)
            if not dropped_by_server and self.ws is not None:
                ws, self.ws = self.ws, None
                await ws.close()
                await asyncio.sleep(self.rng.uniform(0.5, 3))
            else:
                self.ws = None
            snapshot = await self._open()
            after = await asyncio.to_thread(agent_db_view, self.agent_id)
            self.ledger.reconnects += 1
            self._compare(snapshot, before, after)
            self.online.set()
        self._adopt(snapshot)

    def _compare(self, snapshot: dict, before: dict, after: dict) -> None:
        self.ledger.snapshot_checks += 1
        shown = {
            "state": snapshot["state"]["state"],
            "offers": {o["offer_id"] for o in snapshot["offers"]},
            "owned": {c["id"] for c in snapshot["conversations"]},
        }
        problems = []
        if shown["state"] not in (before["state"], after["state"]):
            problems.append(
                f"state {shown['state']} (database {before['state']} -> {after['state']})"
            )
        if shown["owned"] not in (before["owned"], after["owned"]):
            problems.append(
                f"conversations {sorted(shown['owned'])} (database {sorted(before['owned'])} -> {sorted(after['owned'])})"
            )
        # Offers come and go by others' hands: the snapshot holds every offer pending throughout,
        # and none that was pending at neither read.
        if (
            not (before["offers"] & after["offers"])
            <= shown["offers"]
            <= (before["offers"] | after["offers"])
        ):
            problems.append(
                f"offers {sorted(shown['offers'])} (database {sorted(before['offers'])} -> {sorted(after['offers'])})"
            )
        if problems:
            self.ledger.snapshot_mismatches.append(f"agent {self.agent_id}: " + "; ".join(problems))

    def _adopt(self, snapshot: dict) -> None:
        """After a (re)connect the desktop works from the snapshot: pushes may have been lost."""
        self.state = snapshot["state"]["state"]
        self.owned = {c["id"] for c in snapshot["conversations"]}
        for conversation in self.owned:
            self._work_on(conversation)
        for offer in snapshot["offers"]:
            self._offer(offer["offer_id"])
        if self.state == "rona":
            self._spawn(self._back_from_rona())

    # --- the agent's life ----------------------------------------------------------------------
    async def run(self) -> None:
        snapshot = await self._open()
        self.online.set()
        self._adopt(snapshot)
        next_drop = time.monotonic() + self.rng.uniform(*DROP_EVERY)
        while not self.stop.is_set():
            try:
                await asyncio.wait_for(self.stop.wait(), timeout=5)
            except (TimeoutError, asyncio.TimeoutError):
                pass
            if self.stop.is_set():
                break
            if time.monotonic() > next_drop and self.online.is_set():
                next_drop = time.monotonic() + self.rng.uniform(*DROP_EVERY)
                await self._reconnect(dropped_by_server=False)
                continue
            # A push is a hint: every few seconds the desktop re-reads (as its sync button does).
            if self.online.is_set():
                try:
                    reply = await self.act("sync")
                except (ConnectionError, TimeoutError, asyncio.TimeoutError):
                    continue
                if reply.get("ok"):
                    self._adopt(reply["data"])

    async def finish(self) -> None:
        """Stops taking offers; the conversations still owned are closed."""
        self.accepting = False
        deadline = time.monotonic() + 120
        while self.working and time.monotonic() < deadline:
            await asyncio.sleep(0.5)

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        ws, self.ws = self.ws, None
        if ws is not None:
            await ws.close()
        if self.reader is not None:
            self.reader.cancel()
            await asyncio.gather(self.reader, return_exceptions=True)


async def transfers(
    *,
    desks: list[Desk],
    ports: list[int],
    cookie: str,
    ledger: AgentLedger,
    rng: random.Random,
    stop: asyncio.Event,
    every: float = 8.0,
) -> None:
    """A supervisor moves a conversation from one agent to another in the care console now and
    then (both desktops are left alone meanwhile, so their reconnect comparisons stay exact)."""
    import httpx

    async with httpx.AsyncClient(timeout=30, follow_redirects=False) as client:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=rng.uniform(every / 2, every * 1.5))
                break
            except (TimeoutError, asyncio.TimeoutError):
                pass
            sources = [d for d in desks if d.owned and d.online.is_set()]
            if not sources:
                continue
            source = rng.choice(sources)
            target = rng.choice([d for d in desks if d is not source])
            conversation = rng.choice(sorted(source.owned))
            first, second = sorted((source, target), key=lambda d: d.agent_id)
            async with first.lock, second.lock:
                port = rng.choice(ports)
                base = f"http://127.0.0.1:{port}"
                cookies = {"sessionid": cookie}
                try:
                    page = await client.get(f"{base}/care/", cookies=cookies)
                    csrf = page.cookies.get("csrftoken") or client.cookies.get("csrftoken") or ""
                    if not csrf:
                        csrf = "soak" + uuid.uuid4().hex + uuid.uuid4().hex[:24]
                    response = await client.post(
                        f"{base}/care/conversations/{conversation}/transfer/",
                        data={"agent_id": str(target.agent_id)},
                        cookies={**cookies, "csrftoken": csrf},
                        headers={"X-CSRFToken": csrf, "Origin": base, "Referer": f"{base}/care/"},
                    )
                except httpx.HTTPError as exc:
                    key = f"no answer ({type(exc).__name__})"
                    ledger.transfers_refused[key] = ledger.transfers_refused.get(key, 0) + 1
                    continue
                if response.status_code in (302, 303):
                    ledger.transfers += 1
                    source.owned.discard(conversation)
                    target._work_on(conversation)
                else:
                    key = f"{response.status_code} {response.text[:100]}"
                    ledger.transfers_refused[key] = ledger.transfers_refused.get(key, 0) + 1
