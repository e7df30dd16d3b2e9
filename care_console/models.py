"""What a supervisor may see in the care console: the teams and queues they are granted."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from routing.models import Queue
from tenants.models import Agent, Team, Tenant


class SupervisorScope(models.Model):
    """A supervisor's teams and queues in one tenant. Tenant admins see everything without one;
    a supervisor without one sees nothing."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="supervisor_scopes"
    )
    teams = models.ManyToManyField(Team, blank=True, related_name="+")
    queues = models.ManyToManyField(Queue, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["tenant", "user__email"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="supervisorscope_unique_user"),
        ]

    def __str__(self) -> str:
        return f"Scope of {self.user} in {self.tenant}"


class TaskHour(models.Model):
    """Routing figures of one hour (UTC), per queue and per team of the agent who took the task:
    what the queue and time reports sum instead of reading every task. Each figure sits in the
    hour of its own moment: contacts, service level and abandons in the hour the task was queued,
    the wait in the hour it was answered, the handle time in the hour it was closed."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    contacts = models.PositiveIntegerField(default=0)
    service_level_counted = models.PositiveIntegerField(default=0)
    service_level_met = models.PositiveIntegerField(default=0)
    abandoned = models.PositiveIntegerField(default=0)
    waits = models.JSONField(default=list, help_text="Answered contacts per wait-time bucket")
    handles = models.JSONField(default=list, help_text="Closed contacts per handle-time bucket")

    class Meta:
        indexes = [models.Index(fields=["tenant", "hour"])]


class ConversationHour(models.Model):
    """Conversation figures of one hour (UTC): conversations opened per channel, and closed per
    wrap-up code, with what a supervisor's scope needs: the owner's team and the queues the
    conversation was routed through (as "|1|4|")."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    kind = models.CharField(max_length=20, blank=True)
    wrap_up_code = models.CharField(max_length=80, blank=True)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    queue_key = models.CharField(max_length=200, blank=True)
    opened = models.PositiveIntegerField(default=0)
    closed = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["tenant", "hour"])]


class ReportRollupState(models.Model):
    """How far the hourly figures of a tenant are folded: the last task event, task and
    conversation ids seen, and when the last fold ran (for conversations closed since)."""

    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    task_event_id = models.BigIntegerField(default=0)
    task_id = models.BigIntegerField(default=0)
    conversation_id = models.BigIntegerField(default=0)
    folded_at = models.DateTimeField(null=True, blank=True)
    variables = models.JSONField(
        default=list, blank=True, help_text="The reportable variables the figures are folded for"
    )


class VariableHour(models.Model):
    """Reportable variables of the conversations opened in one hour (UTC): per value of a
    variable (null when not set), how many conversations, and with measure set, how many carry a
    number in that variable and its sum, for the custom report. Scoped like ConversationHour."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    queue_key = models.CharField(max_length=200, blank=True)
    name = models.CharField(max_length=64)
    value = models.TextField(null=True, blank=True)
    measure = models.CharField(max_length=64, blank=True)
    conversations = models.PositiveIntegerField(default=0)
    total = models.FloatField(default=0)

    class Meta:
        indexes = [models.Index(fields=["tenant", "name", "measure", "hour"])]


class AgentHour(models.Model):
    """RONA of one agent in one hour (UTC), for the RONA report."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="+")
    rona = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["tenant", "hour"])]
