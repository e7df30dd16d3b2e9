"""Customers on every channel, as their providers deliver them: signed webhooks (WhatsApp,
Messenger, SMS, email through the Mailgun-signed webhook, Apple with its JWT) and live chat through
the widget's endpoints. Providers deliver at least once: a delivery that gets no 2xx is retried
until it does, and 30% of deliveries are repeated on purpose, half at once (concurrently), half
late. Every message carries a token of its own, so the checks find it in the database."""

import asyncio
import itertools
import random
import time
import uuid
from dataclasses import dataclass, field

import httpx

from soaklib.seed import CHANNELS

REPEAT_SHARE = 0.3


@dataclass
class Ledger:
    """What the customers did: every token posted, and which ones a server accepted."""

    posted: dict[str, str] = field(default_factory=dict)  # token -> channel
    accepted: set[str] = field(default_factory=set)
    deliveries: int = 0
    repeats_concurrent: int = 0
    repeats_late: int = 0
    retries: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # "status reason" -> count
    conversations: int = 0


class Customers:
    def __init__(
        self, *, seeded, ports: list[int], rate: float, ledger: Ledger, rng: random.Random
    ):
        self.seeded = seeded
        self.ports = ports
        self.rate = rate
        self.ledger = ledger
        self.rng = rng
        self.numbers = itertools.count(1)
        self.client = httpx.AsyncClient(timeout=30)
        self.late: list[asyncio.Task] = []
        self.conversations: list[asyncio.Task] = []

    def _url(self, path_url: str) -> tuple[str, int]:
        """The same webhook on one of the ASGI processes (as a load balancer would spread it)."""
        port = self.rng.choice(self.ports)
        rest = path_url.split("/", 3)[3]
        return f"http://127.0.0.1:{port}/{rest}", port

    async def _post_once(self, url_path: str, body: bytes, headers: dict, token: str) -> bool:
        url, port = self._url(url_path)
        if "X-Twilio-Signature" in headers:
            # Twilio signs the URL it posts to: the webhook is signed for the first port, so post
            # there, as a provider configured with one URL would.
            url = url_path
        try:
            response = await self.client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            key = f"no answer ({type(exc).__name__})"
            self.ledger.refused[key] = self.ledger.refused.get(key, 0) + 1
            return False
        if 200 <= response.status_code < 300:
            self.ledger.accepted.add(token)
            return True
        key = f"{self.ledger.posted.get(token)} {response.status_code} {response.text[:80]}"
        self.ledger.refused[key] = self.ledger.refused.get(key, 0) + 1
        return response.status_code < 500 and response.status_code not in (408, 429)

    async def _deliver(self, url_path: str, body: bytes, headers: dict, token: str) -> None:
        """At least once: retried with back-off until a 2xx (or a 4xx, which no retry changes)."""
        self.ledger.deliveries += 1
        delay = 0.5
        deadline = time.monotonic() + 600
        while not await self._post_once(url_path, body, headers, token):
            if time.monotonic() > deadline:
                return
            self.ledger.retries += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 8)

    async def _send(self, url_path: str, body: bytes, headers: dict, token: str) -> None:
        roll = self.rng.random()
        if roll < REPEAT_SHARE / 2:
            self.ledger.repeats_concurrent += 1
            await asyncio.gather(
                self._deliver(url_path, body, headers, token),
                self._deliver(url_path, body, headers, token),
            )
        elif roll < REPEAT_SHARE:
            self.ledger.repeats_late += 1
            await self._deliver(url_path, body, headers, token)
            later = self.rng.uniform(3, 40)

            async def again():
                await asyncio.sleep(later)
                await self._deliver(url_path, body, headers, token)

            self.late.append(asyncio.create_task(again()))
        else:
            await self._deliver(url_path, body, headers, token)

    # --- one conversation ----------------------------------------------------------------------
    async def conversation(self, channel: str) -> None:
        from channels_app.sandbox.customer import (
            apple_message,
            customer_webhook,
            sign_apple,
        )

        n = next(self.numbers)
        self.ledger.conversations += 1
        asset = self.seeded.assets[channel]
        first_port = self.ports[0]
        base = f"http://127.0.0.1:{first_port}"
        messages = self.rng.choice((1, 1, 2, 3))
        if channel == "chat":
            await self._chat(n, messages)
            return
        sender = {
            "whatsapp": f"4917{n:09d}",
            "messenger": f"99{n:012d}",
            "sms": f"+4915{n:09d}",
            "email": f"customer{n}@soak-customers.example",
            "apple": f"urn:mbid:soak{n:012d}",
        }[channel]
        for index in range(messages):
            token = f"soak-in-{uuid.uuid4().hex[:16]}"
            self.ledger.posted[token] = channel
            text = f"Frage {n}.{index} {token}"
            if channel == "apple":
                hook = sign_apple(asset, base, apple_message(asset, sender=sender, text=text))
            else:
                hook = customer_webhook(
                    asset, base_url=base, sender=sender, text=text, name=f"Soak Customer {n}"
                )
            await self._send(hook.url, hook.body, hook.headers, token)
            await asyncio.sleep(self.rng.uniform(1, 6))

    async def _chat(self, n: int, messages: int) -> None:
        import json

        port = self.rng.choice(self.ports)
        origin = f"http://127.0.0.1:{port}"
        widget = self.seeded.widget_id
        token = ""
        for _ in range(60):
            try:
                response = await self.client.post(
                    f"http://127.0.0.1:{port}/livechat/{widget}/session",
                    content=b"{}",
                    headers={"Content-Type": "application/json", "Origin": origin},
                )
                if response.status_code == 200:
                    token = response.json()["token"]
                    break
                key = f"chat session {response.status_code} {response.text[:60]}"
                self.ledger.refused[key] = self.ledger.refused.get(key, 0) + 1
            except httpx.HTTPError:
                pass
            port = self.rng.choice(self.ports)
            origin = f"http://127.0.0.1:{port}"
            await asyncio.sleep(1)
        if not token:
            return
        for index in range(messages):
            marker = f"soak-in-{uuid.uuid4().hex[:16]}"
            self.ledger.posted[marker] = "chat"
            body = json.dumps(
                {
                    "token": token,
                    "client_id": marker,
                    "text": f"Frage {n}.{index} {marker}",
                    "name": f"Soak Visitor {n}",
                }
            ).encode()
            # The widget's own origin is the page's: the server accepts its own host.
            url = f"http://127.0.0.1:{self.ports[0]}/livechat/{widget}/messages"
            headers = {
                "Content-Type": "application/json",
                "Origin": f"http://127.0.0.1:{self.ports[0]}",
            }
            await self._send_chat(url, body, headers, marker)
            await asyncio.sleep(self.rng.uniform(1, 6))

    async def _send_chat(self, url: str, body: bytes, headers: dict, token: str) -> None:
        # The widget resends a message with the same client id when it got no answer; a repeat
        # with the same client id is what a double-click or a retry after a lost answer looks like.
        await self._send(url, body, headers, token)

    # --- the load ------------------------------------------------------------------------------
    async def run(self, *, until: float) -> None:
        """New conversations at `rate` a second (open loop, Poisson arrivals) until `until`."""
        while time.time() < until:
            channel = self.rng.choice(CHANNELS)
            self.conversations.append(asyncio.create_task(self.conversation(channel)))
            await asyncio.sleep(self.rng.expovariate(self.rate))

    async def drain(self) -> None:
        await asyncio.gather(*self.conversations, return_exceptions=True)
        await asyncio.gather(*self.late, return_exceptions=True)
        await self.client.aclose()
