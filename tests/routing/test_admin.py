import pytest
from django.test import Client

from routing.models import Queue, SkillProfile
from routing.services import task_enqueue
from tests.routing.factories import make_conversation, make_queue, make_skill

pytestmark = pytest.mark.django_db(transaction=True)


def console(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_owner_sees_and_edits_routing_in_the_console(owner, tenant, team):
    queue = make_queue(tenant=tenant, teams=[team], name="Support chat")
    task_enqueue(conversation=make_conversation(tenant=tenant), queue=queue)
    client = console(owner)
    for path in [
        "queue",
        "entrypoint",
        "skill",
        "skillprofile",
        "agentskillprofile",
        "teamskillprofile",
        "task",
        "agentstate",
    ]:
        assert client.get(f"/admin/routing/{path}/").status_code == 200, path
    assert client.get(f"/admin/routing/queue/{queue.pk}/change/").status_code == 200
    response = client.post(
        "/admin/routing/queue/add/",
        {
            "name": "Email",
            "channel_type": "email",
            "routing_type": "longest_available",
            "teams": [team.pk],
            "service_level_seconds": 3600,
            "service_level_target_percent": 80,
        },
    )
    import re

    assert response.status_code == 302, re.findall(
        r"errorlist[^>]*>(.*?)</ul>", response.content.decode(), re.S
    )
    assert Queue.objects.get(name="Email").tenant == tenant


def test_a_skill_profile_value_of_the_wrong_type_is_refused_in_the_console(owner, tenant):
    skill = make_skill(tenant=tenant, name="Tech", type="proficiency")
    response = console(owner).post(
        "/admin/routing/skillprofile/add/",
        {
            "name": "Experts",
            "values-TOTAL_FORMS": "1",
            "values-INITIAL_FORMS": "0",
            "values-MIN_NUM_FORMS": "0",
            "values-MAX_NUM_FORMS": "1000",
            "values-0-skill": skill.pk,
            "values-0-int_value": "",
            "values-0-bool_value": "unknown",
            "values-0-text_value": "expert",
        },
    )
    assert response.status_code == 200
    assert "whole number from 0 to 10" in response.content.decode()
    assert not SkillProfile.objects.exists()


def test_an_outsider_cannot_open_acmes_queue_in_the_console(outsider, tenant, team):
    queue = make_queue(tenant=tenant, teams=[team])
    response = console(outsider).get(f"/admin/routing/queue/{queue.pk}/change/")
    assert response.status_code in (302, 404)
    assert "Support" not in response.content.decode()
