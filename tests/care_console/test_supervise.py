"""Taking over and moving live conversations; the agents concerned are told on their desktops."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from routing.models import AgentState, Offer, Task, TaskEvent
from tenants.models import Agent
from tenants.realtime import agent_group
from tenants.roles import AdminRole
from tests.factories import member


@pytest.fixture
def listen():
    """Collects what reaches an agent's desktop group while the block runs."""
    layer = get_channel_layer()

    def start(agent_id):
        channel = async_to_sync(layer.new_channel)()
        async_to_sync(layer.group_add)(agent_group(agent_id), channel)

        def events(expect: str) -> list[dict]:
            received = []
            while True:
                try:
                    message = async_to_sync(asyncio.wait_for)(layer.receive(channel), timeout=3)
                except TimeoutError:
                    break
                received.append(message)
                if message["event"] == expect:
                    break
            async_to_sync(layer.group_discard)(agent_group(agent_id), channel)
            return [m for m in received if m["event"] == expect]

        return events

    return start


def engaged(agent) -> int:
    return AgentState.objects.get(pk=agent.pk).engaged_chat


def test_a_supervisor_moves_a_conversation_to_another_agent_and_both_are_told(
    center, supervisor, client_for, listen, django_capture_on_commit_callbacks
):
    dana = center.conversations["dana"]
    ann_heard, ben_heard = listen(center.ann.pk), listen(center.ben.pk)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(supervisor).post(
            f"/care/conversations/{dana.pk}/transfer/", {"agent_id": center.ben.pk}
        )
    assert response.status_code == 302
    dana.refresh_from_db()
    assert dana.owner == center.ben
    assert Task.objects.get(pk=center.t["dana"].pk).agent == center.ben
    assert engaged(center.ann) == 1 and engaged(center.ben) == 1
    event = TaskEvent.objects.get(task=center.t["dana"], kind="transferred")
    assert event.data["from_agent_id"] == center.ann.pk and event.data["by"] == supervisor.email
    [told_ann] = ann_heard("conversation.transferred")
    [told_ben] = ben_heard("conversation.transferred")
    assert told_ann["payload"]["conversation_id"] == dana.pk
    assert "Ben" in told_ann["payload"]["message"]
    assert told_ben["payload"]["to_agent_id"] == center.ben.pk


def test_an_agent_without_free_capacity_is_refused_with_the_reason(center, supervisor, client_for):
    AgentState.objects.create(
        agent=center.ben, tenant=center.tenant, team=center.support, engaged_chat=3, max_chat=3
    )
    dana = center.conversations["dana"]
    response = client_for(supervisor).post(
        f"/care/conversations/{dana.pk}/transfer/", {"agent_id": center.ben.pk}
    )
    assert response.status_code == 400
    assert "Ben has no free chat capacity" in response.json()["error"]
    dana.refresh_from_db()
    assert dana.owner == center.ann


def test_a_supervisor_with_an_agent_profile_takes_a_conversation_over(
    center, supervisor, client_for, django_capture_on_commit_callbacks
):
    own = Agent.objects.create(
        tenant=center.tenant,
        user=supervisor,
        team=center.support,
        site=center.support.site,
        multimedia_profile=center.support.site.multimedia_profile,
        display_name="Carol",
    )
    dana = center.conversations["dana"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(supervisor).post(f"/care/conversations/{dana.pk}/takeover/")
    assert response.status_code == 302
    dana.refresh_from_db()
    assert dana.owner == own
    assert TaskEvent.objects.get(task=center.t["dana"], kind="transferred").data["takeover"]


def test_taking_over_without_an_agent_profile_says_why(center, supervisor, client_for):
    dana = center.conversations["dana"]
    response = client_for(supervisor).post(f"/care/conversations/{dana.pk}/takeover/")
    assert response.status_code == 400
    assert "agent profile" in response.json()["error"]


def test_moving_a_conversation_to_another_queue_frees_the_agent_and_queues_it_again(
    center, owner, client_for, listen, django_capture_on_commit_callbacks
):
    dana = center.conversations["dana"]
    ann_heard = listen(center.ann.pk)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(owner).post(
            f"/care/conversations/{dana.pk}/transfer/", {"queue_id": center.sales_queue.pk}
        )
    assert response.status_code == 302
    old = Task.objects.get(pk=center.t["dana"].pk)
    assert old.status == "closed" and old.close_reason == "transferred"
    new = Task.objects.exclude(pk=old.pk).get(conversation=dana)
    assert new.queue == center.sales_queue
    # Ann's capacity for Dana came back: what stays engaged are her pending offers only (the
    # router may have offered her the next waiting contact at once).
    pending = Offer.objects.filter(agent=center.ann, status="pending").count()
    assert engaged(center.ann) == pending
    dana.refresh_from_db()
    assert dana.owner is None or dana.owner == center.cat  # Sales may route it at once
    [told] = ann_heard("conversation.transferred")
    assert "Sales chat" in told["payload"]["message"]


def test_bad_moves_answer_400_with_the_reason(center, owner, client_for):
    client = client_for(owner)
    dana, erik = center.conversations["dana"], center.conversations["erik"]
    both = client.post(
        f"/care/conversations/{dana.pk}/transfer/",
        {"agent_id": center.ben.pk, "queue_id": center.queue.pk},
    )
    assert both.status_code == 400 and "either an agent or a queue" in both.json()["error"]
    closed = client.post(f"/care/conversations/{erik.pk}/transfer/", {"agent_id": center.ann.pk})
    assert closed.status_code == 400 and "open conversation" in closed.json()["error"]
    same = client.post(f"/care/conversations/{dana.pk}/transfer/", {"agent_id": center.ann.pk})
    assert same.status_code == 400 and "already with this agent" in same.json()["error"]


def test_read_only_admins_may_read_but_not_move(center, client_for):
    reader = member(tenant=center.tenant, email="rita@acme.test", admin_role=AdminRole.READ_ONLY)
    dana = center.conversations["dana"]
    client = client_for(reader)
    assert client.get(f"/care/conversations/{dana.pk}/").status_code == 200
    assert client.post(f"/care/conversations/{dana.pk}/takeover/").status_code == 403
    response = client.post(f"/care/conversations/{dana.pk}/transfer/", {"agent_id": center.ben.pk})
    assert response.status_code == 403


def test_targets_outside_the_scope_or_the_tenant_are_404(center, supervisor, outsider, client_for):
    dana = center.conversations["dana"]
    carol = client_for(supervisor)
    assert (
        carol.post(
            f"/care/conversations/{dana.pk}/transfer/", {"agent_id": center.cat.pk}
        ).status_code
        == 404
    )
    assert (
        carol.post(
            f"/care/conversations/{dana.pk}/transfer/", {"queue_id": center.sales_queue.pk}
        ).status_code
        == 404
    )
    mallory = client_for(outsider)
    assert mallory.post(f"/care/conversations/{dana.pk}/takeover/").status_code == 404
    assert (
        mallory.post(
            f"/care/conversations/{dana.pk}/transfer/", {"agent_id": center.ben.pk}
        ).status_code
        == 404
    )
