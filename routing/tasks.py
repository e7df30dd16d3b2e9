"""Celery tasks: take ids, call one service. All of them are safe to run twice."""

from celery import shared_task

from routing import services


@shared_task(name="routing.tasks.sweep_due_timers", ignore_result=True)
def sweep_due_timers() -> dict[str, int]:
    return services.timers_sweep()


@shared_task(name="routing.tasks.route_queue", ignore_result=True)
def route_queue(queue_id: int) -> int:
    return services.route_queue(queue_id=queue_id)


@shared_task(name="routing.tasks.route_for_agent", ignore_result=True)
def route_for_agent(agent_id: int) -> int:
    return services.route_for_agent(agent_id=agent_id)
