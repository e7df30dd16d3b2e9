import pytest

from routing.models import EntryPoint, Offer, Queue, SkillProfile, Task
from routing.services import agent_state_set, task_enqueue
from tests.factories import IdleCodeFactory
from tests.routing.factories import (
    make_agent,
    make_asset,
    make_conversation,
    make_queue,
    make_skill,
    make_team,
)

pytestmark = pytest.mark.django_db(transaction=True)

API = "/api/v1/routing"


@pytest.fixture
def bob_available(agent):
    """bob, available, in the Support team that the 'Support chat' queue serves."""
    agent_state_set(agent=agent, state="available")
    return agent


@pytest.fixture
def support_queue(tenant, team):
    return make_queue(tenant=tenant, teams=[team], name="Support chat")


def test_an_owner_configures_a_queue_and_an_entry_point(api_as, owner, tenant, team):
    client = api_as(owner)
    response = client.post(
        f"{API}/queues/",
        {
            "name": "Sales",
            "channel_type": "chat",
            "routing_type": "skills_based",
            "teams": [team.pk],
            "service_level_seconds": 30,
        },
        format="json",
    )
    assert response.status_code == 201, response.data
    queue = Queue.objects.get(pk=response.data["id"])
    assert (queue.tenant, list(queue.teams.all())) == (tenant, [team])
    asset = make_asset(tenant=tenant, kind="whatsapp")
    response = client.post(
        f"{API}/entry-points/",
        {
            "name": "WhatsApp in",
            "channel_type": "social",
            "social_channel_type": "whatsapp",
            "asset": asset.pk,
        },
        format="json",
    )
    assert response.status_code == 201, response.data
    assert EntryPoint.objects.get().asset == asset


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            {"channel_type": "social", "social_channel_type": ""},
            "social_channel_type",
            "needs a social channel type",
        ),
        (
            {"channel_type": "chat", "social_channel_type": "whatsapp"},
            "social_channel_type",
            "Only social",
        ),
        ({"channel_type": "email", "social_channel_type": ""}, "asset", "needs a email asset"),
        ({"channel_type": "social", "social_channel_type": "sms"}, "asset", "needs a sms asset"),
    ],
)
def test_an_entry_point_must_match_its_channel_and_asset(
    api_as, owner, tenant, body, field, message
):
    asset = make_asset(tenant=tenant, kind="whatsapp")
    response = api_as(owner).post(
        f"{API}/entry-points/", {"name": "In", "asset": asset.pk, **body}, format="json"
    )
    assert response.status_code == 400
    assert message in str(response.data[field])
    assert not EntryPoint.objects.exists()


def test_a_second_default_queue_and_a_self_overflow_are_refused(
    api_as, owner, tenant, team, support_queue
):
    client = api_as(owner)
    assert (
        client.patch(
            f"{API}/queues/{support_queue.pk}/", {"default": True}, format="json"
        ).status_code
        == 200
    )
    response = client.post(
        f"{API}/queues/", {"name": "Other", "channel_type": "chat", "default": True}, format="json"
    )
    assert response.status_code == 400
    assert "already the default queue" in str(response.data["default"])
    response = client.patch(
        f"{API}/queues/{support_queue.pk}/", {"overflow_queue": support_queue.pk}, format="json"
    )
    assert response.status_code == 400
    assert "cannot overflow into itself" in str(response.data["overflow_queue"])
    response = client.patch(
        f"{API}/queues/{support_queue.pk}/", {"max_time_in_queue_seconds": 60}, format="json"
    )
    assert "needs an overflow queue" in str(response.data["overflow_queue"])
    support_queue.refresh_from_db()
    assert (support_queue.overflow_queue, support_queue.max_time_in_queue_seconds) == (None, None)


def test_skill_profiles_are_written_with_checked_values(api_as, owner, tenant):
    make_skill(tenant=tenant, name="Tech", type="proficiency")
    make_skill(tenant=tenant, name="Tier", type="enum", enum_values=["gold", "silver"])
    client = api_as(owner)
    response = client.post(
        f"{API}/skill-profiles/",
        {"name": "Experts", "values": {"Tech": 8, "Tier": "gold"}},
        format="json",
    )
    assert response.status_code == 201, response.data
    profile_id = response.data["id"]
    response = client.patch(
        f"{API}/skill-profiles/{profile_id}/",
        {"values": {"Tech": 12, "Tier": "gold"}},
        format="json",
    )
    assert response.status_code == 400
    assert "not between 0 and 10" in str(response.data)
    assert client.get(f"{API}/skill-profiles/{profile_id}/").data["values"] == {
        "Tech": 8,
        "Tier": "gold",
    }


def test_a_skill_of_the_wrong_shape_is_refused(api_as, owner):
    response = api_as(owner).post(
        f"{API}/skills/", {"name": "Tier", "type": "enum", "enum_values": []}, format="json"
    )
    assert response.status_code == 400
    assert "needs a list of named values" in str(response.data)


def test_an_agent_gets_a_skill_profile_through_the_api(api_as, owner, tenant, agent):
    profile = SkillProfile.objects.create(tenant=tenant, name="P")
    response = api_as(owner).post(
        f"{API}/agent-skill-profiles/", {"agent": agent.pk, "profile": profile.pk}, format="json"
    )
    assert response.status_code == 201, response.data
    assert agent.skill_profile_assignment.profile == profile


def test_a_supervisor_sees_queues_and_tasks_but_cannot_configure(api_as, supervisor, support_queue):
    client = api_as(supervisor)
    assert client.get(f"{API}/queues/").data["count"] == 1
    response = client.post(f"{API}/queues/", {"name": "X", "channel_type": "chat"}, format="json")
    assert response.status_code == 403
    response = client.delete(f"{API}/queues/{support_queue.pk}/")
    assert response.status_code == 403
    assert Queue.objects.filter(pk=support_queue.pk).exists()


def test_enqueue_through_the_api_and_read_the_timeline(
    api_as, owner, supervisor, tenant, support_queue, bob_available
):
    make_skill(tenant=tenant, name="Spanish", type="boolean")
    conversation = make_conversation(tenant=tenant, text="hola")
    response = api_as(owner).post(
        f"{API}/tasks/",
        {
            "conversation": conversation.pk,
            "queue": support_queue.pk,
            "priority": 2,
            "requirements": [{"skill": "Spanish", "operator": "is", "value": True}],
            "relaxation_steps": [{"after_seconds": 0, "skill": "Spanish", "action": "drop"}],
        },
        format="json",
    )
    assert response.status_code == 201, response.data
    assert response.data["status"] == "offered"
    assert response.data["current_requirements"] == []
    events = api_as(supervisor).get(f"{API}/tasks/{response.data['id']}/events/").data
    assert [e["kind"] for e in events] == ["queued", "offered"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"priority": 0}, "Priority is a whole number"),
        (
            {"requirements": [{"skill": "Nope", "operator": "=", "value": 1}]},
            "no skill named 'Nope'",
        ),
        ({"queue": 999999}, "No such queue"),
    ],
)
def test_a_bad_enqueue_is_a_clear_400_and_stores_nothing(
    api_as, owner, tenant, support_queue, body, message
):
    conversation = make_conversation(tenant=tenant)
    response = api_as(owner).post(
        f"{API}/tasks/",
        {"conversation": conversation.pk, "queue": support_queue.pk, **body},
        format="json",
    )
    assert response.status_code == 400
    assert message in str(response.data)
    assert not Task.objects.exists()


def test_an_agent_goes_available_and_accepts_an_offer(api_as, agent, tenant, support_queue):
    client = api_as(agent.user)
    response = client.put(f"{API}/me/state/", {"state": "available"}, format="json")
    assert response.status_code == 200 and response.data["state"] == "available"
    conversation = make_conversation(tenant=tenant, customer_name="Dana", text="Hello?")
    task_enqueue(conversation=conversation, queue=support_queue)
    offers = client.get(f"{API}/me/offers/").data
    assert [(o["customer_name"], o["preview"], o["queue_name"]) for o in offers] == [
        ("Dana", "Hello?", "Support chat")
    ]
    response = client.post(f"{API}/me/offers/{offers[0]['offer_id']}/accept/")
    assert response.status_code == 200 and response.data["status"] == "accepted"
    conversation.refresh_from_db()
    assert conversation.owner == agent
    response = client.post(f"{API}/me/offers/{offers[0]['offer_id']}/decline/")
    assert response.status_code == 400
    assert "can no longer be declined" in str(response.data)


def test_an_agent_goes_idle_with_an_idle_code_only(api_as, agent, tenant):
    client = api_as(agent.user)
    response = client.put(f"{API}/me/state/", {"state": "idle"}, format="json")
    assert response.status_code == 400 and "needs an idle code" in str(response.data)
    lunch = IdleCodeFactory(tenant=tenant, name="Lunch")
    response = client.put(
        f"{API}/me/state/", {"state": "idle", "idle_code": lunch.pk}, format="json"
    )
    assert response.status_code == 200 and response.data["idle_code"] == lunch.pk


def test_an_outsider_finds_nothing_of_acme(
    api_as, outsider, owner, tenant, support_queue, bob_available
):
    conversation = make_conversation(tenant=tenant)
    task = task_enqueue(conversation=conversation, queue=support_queue)
    offer = Offer.objects.get(task=task)
    client = api_as(outsider)
    for path in ["queues", "tasks", "skills", "skill-profiles", "entry-points", "agent-states"]:
        assert client.get(f"{API}/{path}/").data["count"] == 0, path
    assert client.get(f"{API}/queues/{support_queue.pk}/").status_code == 404
    assert client.get(f"{API}/tasks/{task.pk}/").status_code == 404
    assert client.get(f"{API}/tasks/{task.pk}/events/").status_code == 404
    assert client.post(f"{API}/tasks/{task.pk}/close/").status_code == 404
    assert (
        client.patch(
            f"{API}/queues/{support_queue.pk}/", {"name": "Mine"}, format="json"
        ).status_code
        == 404
    )
    assert client.get(f"{API}/agent-states/{bob_available.pk}/").status_code == 404
    assert client.post(f"{API}/me/offers/{offer.pk}/accept/").status_code == 404
    # Enqueueing Acme's conversation into Acme's queue from Globex: no such objects there.
    response = client.post(
        f"{API}/tasks/", {"conversation": conversation.pk, "queue": support_queue.pk}, format="json"
    )
    assert response.status_code == 400
    assert Offer.objects.get(pk=offer.pk).status == "pending"
    assert Queue.objects.get(pk=support_queue.pk).name == "Support chat"


def test_a_supervisor_closes_a_task(api_as, supervisor, tenant, support_queue, bob_available):
    task = task_enqueue(conversation=make_conversation(tenant=tenant), queue=support_queue)
    response = api_as(supervisor).post(
        f"{API}/tasks/{task.pk}/close/", {"reason": "spam"}, format="json"
    )
    assert response.status_code == 200
    assert (response.data["status"], response.data["close_reason"]) == ("closed", "spam")
    assert Offer.objects.get(task=task).status == "withdrawn"


def test_list_endpoints_use_a_bounded_number_of_queries(
    api_as, owner, tenant, team, django_assert_max_num_queries
):
    skill = make_skill(tenant=tenant, name="Tech", type="proficiency")
    queues = [make_queue(tenant=tenant, teams=[team, make_team(tenant=tenant)]) for _ in range(5)]
    for i in range(5):
        profile = SkillProfile.objects.create(tenant=tenant, name=f"P{i}")
        profile.values.create(skill=skill, int_value=i)
        agent_state_set(agent=make_agent(tenant=tenant, team=team), state="available")
    for _ in range(5):
        task_enqueue(conversation=make_conversation(tenant=tenant), queue=queues[0])
    client = api_as(owner)
    for path in ["queues", "tasks", "skill-profiles", "agent-states", "skills", "entry-points"]:
        with django_assert_max_num_queries(12):
            response = client.get(f"{API}/{path}/")
        assert response.status_code == 200, path


def test_queue_stats_count_waiting_and_offered_contacts_per_queue(
    api_as, supervisor, outsider, tenant, support_queue, bob_available
):
    from datetime import timedelta

    import time_machine

    for _ in range(bob_available.multimedia_profile.max_chat):  # offered: bob's room fills up
        task_enqueue(conversation=make_conversation(tenant=tenant), queue=support_queue)
    waiting = task_enqueue(conversation=make_conversation(tenant=tenant), queue=support_queue)
    make_queue(tenant=tenant, teams=[], name="Empty")

    with time_machine.travel(waiting.enqueued_at + timedelta(seconds=42), tick=False):
        stats = api_as(supervisor).get(f"{API}/queues/stats/").json()

    by_name = {row["name"]: row for row in stats}
    assert by_name["Support chat"]["waiting"] == 1
    assert by_name["Support chat"]["offered"] == bob_available.multimedia_profile.max_chat
    assert by_name["Support chat"]["longest_wait_seconds"] >= 42
    assert by_name["Empty"] == {
        **by_name["Empty"],
        "waiting": 0,
        "offered": 0,
        "longest_wait_seconds": 0,
    }
    assert api_as(outsider).get(f"{API}/queues/stats/?tenant={tenant.pk}").status_code == 404
    assert "Support chat" not in {
        row["name"] for row in api_as(outsider).get(f"{API}/queues/stats/").json()
    }
