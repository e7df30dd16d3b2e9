# ruff: noqa: F811 - the live-chat fixtures are imported from test_livechat
"""Live chat's abuse limits are counted in Redis, so every process (ASGI nodes, web workers) sees
one count: per visitor and per IP, on new conversations, messages and uploads."""

import os
import socket
import subprocess
import sys

import redis
from django.test import Client

from channels_app.models import Conversation, Message
from tests.channels_app.test_livechat import (  # noqa: F401 - the live-chat tests' fixtures
    ORIGIN,
    _fresh_limits,
    _run_after_commit,
    post,
    session,
    widget,
)


def say(client, widget, token, client_id, text="Hi"):
    return post(client, widget, "messages", {"token": token, "client_id": client_id, "text": text})


def test_two_visitors_behind_one_address_share_its_limit(widget, settings):
    settings.LIVECHAT_RATE_LIMITS = {"message_ip": (3, 60)}
    alice, bob = Client(REMOTE_ADDR="203.0.113.7"), Client(REMOTE_ADDR="203.0.113.7")
    elsewhere = Client(REMOTE_ADDR="198.51.100.1")
    alice_token, bob_token = session(alice, widget)["token"], session(bob, widget)["token"]
    other_token = session(elsewhere, widget)["token"]

    codes = [
        say(alice, widget, alice_token, "a1").status_code,
        say(bob, widget, bob_token, "b1").status_code,
        say(alice, widget, alice_token, "a2").status_code,
        say(bob, widget, bob_token, "b2").status_code,
    ]
    refused = say(alice, widget, alice_token, "a3")
    other = say(elsewhere, widget, other_token, "o1")

    assert codes == [200, 200, 200, 429]
    assert refused.status_code == 429 and "too fast" in refused.json()["error"]
    assert other.status_code == 200
    # The count is in Redis, where another process reads the same number.
    store = redis.Redis.from_url(settings.REDIS_URL)
    assert int(store.get("livechat:limit:message_ip:203.0.113.7")) == 5
    assert 0 < store.ttl("livechat:limit:message_ip:203.0.113.7") <= 60


def test_two_tabs_of_one_visitor_share_the_visitor_limit(widget, settings):
    settings.LIVECHAT_RATE_LIMITS = {"message_visitor": (2, 60)}
    first_tab, second_tab = Client(REMOTE_ADDR="203.0.113.8"), Client(REMOTE_ADDR="203.0.113.9")
    token = session(first_tab, widget)["token"]

    one = say(first_tab, widget, token, "t1")
    two = say(second_tab, widget, token, "t2")
    three = say(second_tab, widget, token, "t3")

    assert (one.status_code, two.status_code, three.status_code) == (200, 200, 429)
    assert Message.objects.filter(direction="in").count() == 2


def test_a_count_made_by_another_process_applies_here(widget, settings):
    settings.LIVECHAT_RATE_LIMITS = {"message_visitor": (2, 60)}
    client = Client()
    data = session(client, widget)
    code = (
        "from channels_app.livechat.limits import limit_hit\n"
        f"for _ in range(2): limit_hit(what='message_visitor', key={data['visitor']!r})\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}

    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=settings.BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    response = say(client, widget, data["token"], "x1")

    assert response.status_code == 429
    assert not Message.objects.exists()


def test_new_conversations_are_limited_per_visitor(client, widget, settings):
    settings.LIVECHAT_RATE_LIMITS = {"conversation_visitor": (2, 600)}
    token = session(client, widget)["token"]

    codes = []
    for n in range(3):
        codes.append(say(client, widget, token, f"c{n}").status_code)
        Conversation.objects.update(status=Conversation.Status.CLOSED)
    offline = post(
        client,
        widget,
        "offline",
        {"token": token, "client_id": "o", "name": "D", "email": "d@example.com", "text": "x"},
    )

    assert codes == [200, 200, 429]
    assert offline.status_code == 429 and "new conversations" in offline.json()["error"]
    assert Conversation.objects.count() == 2


def test_messages_in_an_open_conversation_do_not_count_as_new_ones(client, widget, settings):
    settings.LIVECHAT_RATE_LIMITS = {"conversation_visitor": (1, 600)}
    token = session(client, widget)["token"]

    codes = [say(client, widget, token, f"m{n}").status_code for n in range(3)]

    assert codes == [200, 200, 200]
    assert Conversation.objects.count() == 1


def test_a_limit_store_that_does_not_answer_refuses_nothing(widget, settings):
    """Redis restarting is no reason to answer a visitor with a server error: the message is
    stored in PostgreSQL all the same, uncounted for that moment."""
    visitor = Client(REMOTE_ADDR="203.0.113.9")
    token = session(visitor, widget)["token"]
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    shared = settings.REDIS_URL
    settings.REDIS_URL = f"redis://127.0.0.1:{closed}/0"
    try:
        answer = say(visitor, widget, token, "while-redis-restarts", text="Still there?")
    finally:
        settings.REDIS_URL = shared  # the fixtures reset the counters there afterwards

    assert answer.status_code == 200
    assert Message.objects.filter(text="Still there?").count() == 1
