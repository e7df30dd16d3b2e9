import pytest

from routing.services import agent_state_set
from tests.routing.factories import make_agent, make_queue, make_team


@pytest.fixture
def routing_db(transactional_db):
    """Routing runs after commit (offers, re-routing): these tests commit for real."""
    return transactional_db


@pytest.fixture
def chat_team(tenant, routing_db):
    return make_team(tenant=tenant, name="Chat team", max_chat=2, max_email=1, max_social=2)


@pytest.fixture
def chat_queue(tenant, chat_team):
    return make_queue(tenant=tenant, teams=[chat_team], name="Chat support")


@pytest.fixture
def available_agent(tenant, chat_team):
    def make(**kwargs):
        agent = make_agent(tenant=tenant, team=chat_team, **kwargs)
        agent_state_set(agent=agent, state="available")
        return agent

    return make
