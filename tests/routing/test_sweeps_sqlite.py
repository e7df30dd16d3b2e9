"""The embedded setup runs the router and the sweeps on SQLite: their ORM paths, for real."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
from datetime import timedelta

from django.utils import timezone

from channels_app.models import Conversation
from channels_app.services import conversations_close_inactive
from routing.models import AgentState, Offer, Task
from routing.selectors import queue_stats
from routing.services import agent_state_set, task_enqueue, timers_sweep
from tests.factories import TenantFactory
from tests.routing.factories import make_agent, make_conversation, make_queue, make_skill, make_team

tenant = TenantFactory(name="Acme", slug="acme")
team = make_team(tenant=tenant, max_chat=1)
spill = make_queue(tenant=tenant, teams=[], name="Spill")
queue = make_queue(
    tenant=tenant, teams=[team], name="Chat", max_time_in_queue_seconds=600, overflow_queue=spill
)
skill = make_skill(tenant=tenant, name="Tech", type="proficiency")
agents = [make_agent(tenant=tenant, team=team) for _ in range(3)]
for agent in agents:
    agent_state_set(agent=agent, state="available")
plain = [task_enqueue(conversation=make_conversation(tenant=tenant), queue=queue) for _ in range(4)]
skilled = task_enqueue(
    conversation=make_conversation(tenant=tenant),
    queue=queue,
    requirements=[{"skill": "Tech", "operator": ">=", "value": 8}],
    relaxation_steps=[{"after_seconds": 60, "skill": "Tech", "action": "drop"}],
)
assert Offer.objects.filter(status="pending").count() == 3, "three agents, three offers"

later = timezone.now() + timedelta(seconds=120)
result = timers_sweep(now=later, route=False)
assert result["expired"] == 3, result
assert result["relaxed"] == 1, result
assert set(AgentState.objects.values_list("state", flat=True)) == {"rona"}
relaxed = Task.objects.get(pk=skilled.pk)
assert (relaxed.relaxation_level, relaxed.current_requirements) == (1, []), relaxed.current_requirements

much_later = timezone.now() + timedelta(seconds=700)
result = timers_sweep(now=much_later, route=False)
assert result["overflowed"] == 5, result
assert Task.objects.filter(queue=spill).count() == 5

for agent in agents:
    agent_state_set(agent=agent, state="available")
stats = {s["name"]: s for s in queue_stats(tenant=tenant)}
assert stats["Spill"]["waiting"] == 5, stats

Conversation.objects.update(last_message_at=timezone.now() - timedelta(days=30))
assert conversations_close_inactive() == 5
print("SQLITE OK")
"""


def test_the_router_and_the_sweeps_work_on_sqlite(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "TEST_DATABASE_NAME")
    }
    # No DATABASE_URL: the embedded setup, whose database is SQLite in VAR_DIR.
    env.update(
        VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="config.settings",
        EMBEDDED_TICKER="0",
    )
    manage = [sys.executable, str(ROOT / "manage.py")]
    migrate = subprocess.run(
        [*manage, "migrate", "-v0"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    run = subprocess.run(
        [*manage, "shell", "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "SQLITE OK" in run.stdout
