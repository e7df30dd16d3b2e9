import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone

from routing.services import agent_state_set, task_enqueue
from tests.channels_app.conftest import _fake_provider_server, fake_provider, whatsapp_asset  # noqa: F401
from tests.routing.factories import make_agent, make_conversation, make_queue, make_team

ORIGIN = b"http://testserver"


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def communicator_for(user=None, *, origin: bytes | None = ORIGIN) -> WebsocketCommunicator:
    from config.asgi import application

    headers = [(b"host", b"testserver")]
    if origin is not None:
        headers.append((b"origin", origin))
    if user is not None:
        headers.append((b"cookie", f"sessionid={session_cookie(user)}".encode()))
    return WebsocketCommunicator(application, "/ws/desktop/", headers=headers)


@pytest.fixture
def desk(tenant, transactional_db, whatsapp_asset):  # noqa: F811
    """Acme with a social team and queue, two available agents, and a WhatsApp conversation waiting."""
    team = make_team(tenant=tenant, name="Social team", max_social=2)
    queue = make_queue(tenant=tenant, teams=[team], name="WhatsApp support", channel_type="social")
    first = make_agent(tenant=tenant, team=team, name="First")
    second = make_agent(tenant=tenant, team=team, name="Second")

    class Desk:
        pass

    d = Desk()
    d.tenant, d.team, d.queue, d.first, d.second, d.asset = (
        tenant,
        team,
        queue,
        first,
        second,
        whatsapp_asset,
    )

    def waiting(text: str = "Hallo, ich brauche Hilfe", customer: str = "Dana Kunde"):
        conversation = make_conversation(
            tenant=tenant, kind="whatsapp", asset=whatsapp_asset, customer_name=customer, text=text
        )
        conversation.last_inbound_at = timezone.now()  # inside WhatsApp's 24-hour window
        conversation.save(update_fields=["last_inbound_at"])
        task_enqueue(conversation=conversation, queue=queue)
        return conversation

    d.waiting = waiting
    d.available = lambda agent: agent_state_set(agent=agent, state="available")
    return d


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """Each test runs in an event loop of its own; the Redis layer's receive locks belong to the
    loop that first waited on them, so every test gets a layer of its own."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()
