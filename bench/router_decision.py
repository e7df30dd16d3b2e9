"""Router decision time with 10, 1,000 and 10,000 available agents and 10,000 waiting tasks.

One decision = one routing pass that offers the head of the queue to the best eligible agent
(route_queue(limit=1, batch_size=1): pick the task, find and lock the agent, create the offer,
commit). Agents have room for 50 chats so they stay eligible while the benchmark runs.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_routing \
        .venv/bin/python bench/router_decision.py [--decisions 200]
"""

import argparse
import statistics

from routing_setup import (
    Timer,
    agents_create,
    analyze,
    django_setup,
    percentile,
    tasks_create,
    team_create,
    tenant_reset,
)

SCENARIOS = {
    "longest_available": ("longest_available", None, None),
    "skills_filter": (
        "longest_available",
        {"type": "proficiency"},
        [{"skill": "Tech", "operator": ">=", "value": 5}],
    ),
    "skills_best_match": (
        "skills_based",
        {"type": "proficiency"},
        [{"skill": "Tech", "operator": ">=", "value": 5}],
    ),
}


def run(scenario: str, agents: int, decisions: int) -> dict:
    from routing.models import AgentSkillProfile, Queue, Skill, SkillProfile, SkillProfileValue
    from routing.services import agent_skills_refresh, route_queue

    routing_type, skill, requirements = SCENARIOS[scenario]
    tenant = tenant_reset("bench-decision")
    team = team_create(tenant, max_chat=50)
    # All 10,000 agents exist; `agents` of them are available, the rest signed out.
    agent_ids = agents_create(tenant, team, 10_000, available=agents)
    if skill:
        tech = Skill.objects.create(tenant=tenant, name="Tech", type=skill["type"])
        profiles = []
        for level in range(11):
            profile = SkillProfile.objects.create(tenant=tenant, name=f"Tech {level}")
            SkillProfileValue.objects.create(profile=profile, skill=tech, int_value=level)
            profiles.append(profile)
        AgentSkillProfile.objects.bulk_create(
            [
                AgentSkillProfile(tenant=tenant, agent_id=a, profile=profiles[(i * 7) % 11])
                for i, a in enumerate(agent_ids)
            ],
            batch_size=2000,
        )
        agent_skills_refresh(agent_ids=agent_ids)
    queue = Queue.objects.create(
        tenant=tenant, name="Bench", channel_type="chat", routing_type=routing_type
    )
    queue.teams.set([team])
    tasks_create(tenant, queue, 10_000, requirements=requirements)
    analyze()
    for _ in range(20):  # warm the connection and caches
        route_queue(queue_id=queue.pk, limit=1, batch_size=1)
    times = []
    for _ in range(decisions):
        with Timer() as t:
            made = route_queue(queue_id=queue.pk, limit=1, batch_size=1)
        assert made == 1
        times.append(t.seconds * 1000)
    return {
        "median_ms": statistics.median(times),
        "p95_ms": percentile(times, 95),
        "mean_ms": statistics.fmean(times),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=200)
    parser.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
    args = parser.parse_args()
    django_setup()
    from routing_setup import tenants_wipe

    tenants_wipe()
    scenarios = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    print(f"{'scenario':<20} {'agents':>7} {'median ms':>10} {'p95 ms':>8} {'mean ms':>8}")
    for scenario in scenarios:
        results = {}
        for agents in (10, 1_000, 10_000):
            results[agents] = run(scenario, agents, args.decisions)
            r = results[agents]
            print(
                f"{scenario:<20} {agents:>7} {r['median_ms']:>10.2f} {r['p95_ms']:>8.2f} {r['mean_ms']:>8.2f}",
                flush=True,
            )
        ratio = results[10_000]["median_ms"] / results[10]["median_ms"]
        print(f"{scenario:<20} ratio 10,000 / 10 agents (median): {ratio:.2f}", flush=True)


if __name__ == "__main__":
    main()
