from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from tenants.models import Tenant


class FlowKind(models.TextChoices):
    """What starts a flow: an inbound message on an entry point, or a task event."""

    INBOUND = "inbound_message", "Inbound message"
    TASK_ROUTED = "task_routed", "Task routed"
    TASK_MODIFIED = "task_modified", "Task modified"
    TASK_CLOSED = "task_closed", "Task closed"


EVENT_KINDS: tuple[str, ...] = (FlowKind.TASK_ROUTED, FlowKind.TASK_MODIFIED, FlowKind.TASK_CLOSED)


class Flow(models.Model):
    """A flow an admin designs; its versions hold the node graph."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="flows")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=FlowKind.choices, default=FlowKind.INBOUND)
    description = models.TextField(blank=True)
    # The shipped template this flow came from, if any (migration compares against it).
    template_name = models.CharField(max_length=80, blank=True)
    template_version = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="flow_unique_name")]
        indexes = [models.Index(fields=["tenant", "kind"])]

    def __str__(self) -> str:
        return self.name


class FlowVersion(models.Model):
    """One version of a flow's definition. Published versions are never changed."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["flow", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["flow", "number"], name="flow_version_unique_number"),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(published_at__isnull=False),
                name="flow_version_published_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.flow.name} v{self.number} ({self.status})"


class VariableType(models.TextChoices):
    STRING = "string", "String"
    NUMBER = "number", "Number"
    BOOLEAN = "boolean", "Boolean"
    DATETIME = "datetime", "Date-time"
    JSON = "json", "JSON"


class GlobalVariable(models.Model):
    """An admin-defined variable every flow of the tenant can read and set."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="global_variables")
    name = models.CharField(
        max_length=64, help_text="Letters, digits and underscores, starting with a letter."
    )
    type = models.CharField(
        max_length=10, choices=VariableType.choices, default=VariableType.STRING
    )
    default = models.JSONField(null=True, blank=True)
    label = models.CharField(
        max_length=80, blank=True, help_text="How the agent desktop names it; empty: its name."
    )
    description = models.CharField(max_length=200, blank=True)
    agent_visible = models.BooleanField(default=False)
    agent_editable = models.BooleanField(default=False)
    reportable = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="global_variable_unique_name"),
            models.CheckConstraint(
                condition=Q(agent_editable=False) | Q(agent_visible=True),
                name="global_variable_editable_is_visible",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class AuthorizableNode(models.TextChoices):
    """The node families that talk to other parts of the product and must be authorized."""

    TASK = "task", "Task (routing: QueueTask)"
    ENGAGE = "engage", "Engage (care side: send message, close conversation)"


class NodeAuthorization(models.Model):
    class State(models.TextChoices):
        UNAUTHORIZED = "unauthorized", "Unauthorized"
        AUTHORIZED = "authorized", "Authorized"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="node_authorizations")
    node = models.CharField(max_length=20, choices=AuthorizableNode.choices)
    state = models.CharField(max_length=20, choices=State.choices, default=State.UNAUTHORIZED)
    authorized_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    authorized_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["node"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "node"], name="node_authorization_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_node_display()}: {self.get_state_display()}"


class BusinessCalendar(models.Model):
    """Opening hours per weekday and holidays, read by the business-hours node."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="business_calendars")
    name = models.CharField(max_length=120)
    timezone = models.CharField(max_length=64, default="UTC")
    # {"mon": [["09:00", "17:00"]], ...}; a missing day is closed all day.
    hours = models.JSONField(default=dict, blank=True)
    # ["2026-12-25", ...]
    holidays = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "name"], name="business_calendar_unique_name"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class FlowRun(models.Model):
    """One execution of a flow version for a conversation, with every step it took."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        WAITING = "waiting", "Waiting for the customer"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed (sent to the default queue)"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="runs")
    flow_version = models.ForeignKey(FlowVersion, on_delete=models.PROTECT, related_name="runs")
    conversation = models.ForeignKey(
        "channels_app.Conversation", on_delete=models.CASCADE, related_name="flow_runs"
    )
    trigger = models.CharField(max_length=20, choices=FlowKind.choices)
    trigger_data = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    # Where a waiting run resumes, and when its wait times out (swept by sweep_flow_timers).
    current_node = models.CharField(max_length=64, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    step_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["conversation", "status"]),
            models.Index(
                fields=["status", "due_at"], condition=Q(status="waiting"), name="flow_run_due"
            ),
            models.Index(fields=["tenant", "-started_at"]),
        ]

    def __str__(self) -> str:
        return f"Run {self.pk} of {self.flow.name} v{self.flow_version.number}"


class FlowRunStep(models.Model):
    """A node entered by a run: what went in, what came out, which path it took."""

    run = models.ForeignKey(FlowRun, on_delete=models.CASCADE, related_name="steps")
    seq = models.PositiveIntegerField()
    node_id = models.CharField(max_length=64)
    node_type = models.CharField(max_length=30)
    inputs = models.JSONField(default=dict, blank=True)
    outputs = models.JSONField(default=dict, blank=True)
    path = models.CharField(max_length=64, help_text="flow, error, or the branch taken")
    next_node = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["run", "seq"], name="flow_run_step_unique_seq")
        ]

    def __str__(self) -> str:
        return f"{self.seq}. {self.node_id} -> {self.path}"
