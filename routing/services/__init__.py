"""Every write of routing goes through these services."""

from routing.services.agents import agent_state_ensure, agent_state_set
from routing.services.router import route_for_agent, route_queue, route_waiting_queues
from routing.services.skills import (
    agent_skill_profile_set,
    agent_skills_refresh,
    skill_profile_value_remove,
    skill_profile_value_set,
    skill_profile_values_replace,
    skill_value_clean,
    team_skill_profile_set,
)
from routing.services.tasks import (
    conversation_tasks_close,
    offer_accept,
    offer_decline,
    offers_expire_due,
    task_close,
    task_enqueue,
    tasks_overflow_due,
    tasks_relax_due,
)
from routing.services.timers import timers_sweep
from routing.services.transfer import (
    conversation_take_over,
    conversation_transfer_to_agent,
    conversation_transfer_to_queue,
)

__all__ = [
    "agent_skill_profile_set",
    "agent_skills_refresh",
    "agent_state_ensure",
    "agent_state_set",
    "conversation_take_over",
    "conversation_tasks_close",
    "conversation_transfer_to_agent",
    "conversation_transfer_to_queue",
    "offer_accept",
    "offer_decline",
    "offers_expire_due",
    "route_for_agent",
    "route_queue",
    "route_waiting_queues",
    "skill_profile_value_remove",
    "skill_profile_value_set",
    "skill_profile_values_replace",
    "skill_value_clean",
    "task_close",
    "task_enqueue",
    "tasks_overflow_due",
    "tasks_relax_due",
    "team_skill_profile_set",
    "timers_sweep",
]
