"""Routing: entry points, queues, skills, agent states, tasks, offers and their timeline.

Timers are due_at columns (Offer.expires_at, Task.next_relaxation_at, Task.overflow_at) swept by
routing.tasks.sweep_due_timers. The invariants the router relies on are database constraints:
one pending offer per task, engaged counts never above the agent's maxima, exclusive blending.
"""

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from channels_app.models import ChannelAsset, ChannelKind, Conversation, MediaType
from tenants.models import Agent, IdleCode, Team, Tenant


class ChannelType(models.TextChoices):
    SOCIAL = MediaType.SOCIAL.value, "Social channel"
    EMAIL = MediaType.EMAIL.value, "Email"
    CHAT = MediaType.CHAT.value, "Chat"


class SocialChannelType(models.TextChoices):
    WHATSAPP = ChannelKind.WHATSAPP.value, "WhatsApp"
    MESSENGER = ChannelKind.MESSENGER.value, "Facebook Messenger"
    SMS = ChannelKind.SMS.value, "SMS"
    APPLE = ChannelKind.APPLE.value, "Apple Messages for Business"


class EntryPoint(models.Model):
    """Where contacts of one channel asset enter, and the flow that runs for them."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="entry_points")
    name = models.CharField(max_length=120)
    channel_type = models.CharField(max_length=10, choices=ChannelType.choices)
    social_channel_type = models.CharField(
        max_length=20,
        choices=SocialChannelType.choices,
        blank=True,
        help_text="Required for (and only for) the social channel type.",
    )
    asset = models.OneToOneField(ChannelAsset, on_delete=models.PROTECT, related_name="entry_point")
    flow = models.ForeignKey(
        "flows.Flow", null=True, blank=True, on_delete=models.PROTECT, related_name="entry_points"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="entrypoint_unique_name"),
            models.CheckConstraint(
                condition=(Q(channel_type="social") & ~Q(social_channel_type=""))
                | (~Q(channel_type="social") & Q(social_channel_type="")),
                name="entrypoint_social_type_iff_social",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.channel_type == ChannelType.SOCIAL and not self.social_channel_type:
            errors["social_channel_type"] = (
                "A social channel entry point needs a social channel type."
            )
        if self.channel_type != ChannelType.SOCIAL and self.social_channel_type:
            errors["social_channel_type"] = (
                "Only social channel entry points have a social channel type."
            )
        if self.asset_id and not errors:
            asset = self.asset
            expected = self.social_channel_type or self.channel_type
            if asset.kind != expected:
                errors["asset"] = (
                    f"The asset is a {asset.get_kind_display()} asset; this entry point needs a "
                    f"{expected} asset."
                )
            if self.tenant_id and asset.tenant_id != self.tenant_id:
                errors["asset"] = "No such channel asset in this tenant."
        if self.flow_id and self.tenant_id and self.flow.tenant_id != self.tenant_id:
            errors["flow"] = "No such flow in this tenant."
        if errors:
            raise ValidationError(errors)


class RoutingType(models.TextChoices):
    LONGEST_AVAILABLE = "longest_available", "Longest available agent"
    SKILLS_BASED = "skills_based", "Skills-based"


class Queue(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="queues")
    name = models.CharField(max_length=120)
    channel_type = models.CharField(max_length=10, choices=ChannelType.choices)
    routing_type = models.CharField(
        max_length=20, choices=RoutingType.choices, default=RoutingType.LONGEST_AVAILABLE
    )
    teams = models.ManyToManyField(
        Team, blank=True, related_name="queues", help_text="The teams this queue distributes to."
    )
    service_level_seconds = models.PositiveIntegerField(
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(7 * 24 * 3600)],
        help_text="Contacts answered within this many seconds meet the service level.",
    )
    service_level_target_percent = models.PositiveSmallIntegerField(
        default=80,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="The share of contacts that should meet the service level.",
    )
    max_time_in_queue_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(30 * 24 * 3600)],
        help_text="After this long a waiting contact moves to the overflow queue.",
    )
    overflow_queue = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="overflow_sources"
    )
    default = models.BooleanField(default=False, help_text="The tenant's fallback queue.")
    auto_accept_allowed = models.BooleanField(
        default=False,
        help_text="Agents may opt in to accept this queue's offers automatically.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="queue_unique_name"),
            models.UniqueConstraint(
                fields=["tenant"], condition=Q(default=True), name="queue_one_default_per_tenant"
            ),
            models.CheckConstraint(
                condition=~Q(overflow_queue=F("id")), name="queue_no_self_overflow"
            ),
            models.CheckConstraint(
                condition=Q(max_time_in_queue_seconds__isnull=True)
                | Q(overflow_queue__isnull=False),
                name="queue_max_time_needs_overflow",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        overflow = self.overflow_queue if self.overflow_queue_id else None
        if overflow is not None:
            if self.pk and overflow.pk == self.pk:
                errors["overflow_queue"] = "A queue cannot overflow into itself."
            elif self.tenant_id and overflow.tenant_id != self.tenant_id:
                errors["overflow_queue"] = "No such queue in this tenant."
            elif overflow.channel_type != self.channel_type:
                errors["overflow_queue"] = "The overflow queue must have the same channel type."
        if self.max_time_in_queue_seconds and overflow is None:
            errors["overflow_queue"] = (
                "A maximum time in queue needs an overflow queue to send contacts to."
            )
        if errors:
            raise ValidationError(errors)


class SkillType(models.TextChoices):
    PROFICIENCY = "proficiency", "Proficiency (0-10)"
    BOOLEAN = "boolean", "Boolean"
    TEXT = "text", "Text (exact match)"
    ENUM = "enum", "Enumeration"


class Skill(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="skills")
    name = models.CharField(max_length=80)
    type = models.CharField(max_length=20, choices=SkillType.choices)
    enum_values = models.JSONField(
        default=list, blank=True, help_text="The named values of an enumeration skill."
    )
    description = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="skill_unique_name")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.type == SkillType.ENUM:
            values = self.enum_values
            if (
                not isinstance(values, list)
                or not values
                or not all(isinstance(v, str) and v.strip() for v in values)
            ):
                raise ValidationError(
                    {"enum_values": "An enumeration skill needs a list of named values."}
                )
            if len(set(values)) != len(values):
                raise ValidationError({"enum_values": "The named values must be distinct."})
        elif self.enum_values:
            raise ValidationError({"enum_values": "Only enumeration skills have named values."})


class SkillProfile(models.Model):
    """Skill -> value; assigned to agents (one each) and optionally to teams."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="skill_profiles")
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="skillprofile_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class TypedValue(models.Model):
    """A skill value in the column of its type, so requirements are evaluated in SQL."""

    int_value = models.SmallIntegerField(null=True, blank=True)
    bool_value = models.BooleanField(null=True, blank=True)
    text_value = models.CharField(max_length=200, null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def value(self):
        if self.int_value is not None:
            return self.int_value
        if self.bool_value is not None:
            return self.bool_value
        return self.text_value


class SkillProfileValue(TypedValue):
    profile = models.ForeignKey(SkillProfile, on_delete=models.CASCADE, related_name="values")
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="profile_values")

    class Meta:
        ordering = ["skill__name"]
        constraints = [
            models.UniqueConstraint(fields=["profile", "skill"], name="skillvalue_unique_skill"),
            models.CheckConstraint(
                condition=Q(int_value__isnull=True) | Q(int_value__gte=0, int_value__lte=10),
                name="skillvalue_proficiency_bounded",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.skill} = {self.value}"


class AgentSkillProfile(models.Model):
    """The one skill profile of an agent."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    agent = models.OneToOneField(
        Agent, on_delete=models.CASCADE, related_name="skill_profile_assignment"
    )
    profile = models.ForeignKey(
        SkillProfile, on_delete=models.PROTECT, related_name="agent_assignments"
    )

    def __str__(self) -> str:
        return f"{self.agent}: {self.profile}"


class TeamSkillProfile(models.Model):
    """A team's skill profile; an agent's own profile wins over it, skill by skill."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    team = models.OneToOneField(
        Team, on_delete=models.CASCADE, related_name="skill_profile_assignment"
    )
    profile = models.ForeignKey(
        SkillProfile, on_delete=models.PROTECT, related_name="team_assignments"
    )

    def __str__(self) -> str:
        return f"{self.team}: {self.profile}"


class AgentSkill(TypedValue):
    """An agent's effective skill value (own profile over team profile), kept by the services."""

    class Source(models.TextChoices):
        AGENT = "agent", "Agent's profile"
        TEAM = "team", "Team's profile"

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="effective_skills")
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=10, choices=Source.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agent", "skill"], name="agentskill_unique")]
        indexes = [
            models.Index(fields=["skill", "int_value"], name="agentskill_int"),
            models.Index(fields=["skill", "text_value"], name="agentskill_text"),
        ]


class AgentStatus(models.TextChoices):
    SIGNED_OUT = "signed_out", "Signed out"
    AVAILABLE = "available", "Available"
    IDLE = "idle", "Idle"
    RONA = "rona", "RONA (no answer to an offer)"


MEDIA_TYPES = ("chat", "email", "social")


def room_q(channel_type: str) -> Q:
    """Agents with room for one more contact of this channel type (blended, or exclusive and
    working no other type). Also the predicate of the partial index agentstate_room_<type>."""
    others = [m for m in MEDIA_TYPES if m != channel_type]
    return Q(**{f"engaged_{channel_type}__lt": F(f"max_{channel_type}")}) & (
        Q(blending="blended") | Q(**{f"engaged_{m}": 0 for m in others})
    )


class AgentState(models.Model):
    """An agent's routing state and engaged contacts (pending offers count as engaged)."""

    agent = models.OneToOneField(
        Agent, on_delete=models.CASCADE, primary_key=True, related_name="routing_state"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(
        max_length=12, choices=AgentStatus.choices, default=AgentStatus.SIGNED_OUT
    )
    idle_code = models.ForeignKey(
        IdleCode, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    state_since = models.DateTimeField(default=timezone.now)
    # When the agent last became available or was last offered a contact: longest-available order.
    available_since = models.DateTimeField(default=timezone.now)
    engaged_chat = models.PositiveSmallIntegerField(default=0)
    engaged_email = models.PositiveSmallIntegerField(default=0)
    engaged_social = models.PositiveSmallIntegerField(default=0)
    # Copied from the multimedia profile whenever the agent changes state.
    max_chat = models.PositiveSmallIntegerField(default=0)
    max_email = models.PositiveSmallIntegerField(default=0)
    max_social = models.PositiveSmallIntegerField(default=0)
    blending = models.CharField(max_length=20, default="blended")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    engaged_chat__lte=F("max_chat"),
                    engaged_email__lte=F("max_email"),
                    engaged_social__lte=F("max_social"),
                ),
                name="agentstate_within_capacity",
            ),
            models.CheckConstraint(
                condition=Q(engaged_chat__gte=0, engaged_email__gte=0, engaged_social__gte=0),
                name="agentstate_engaged_not_negative",
            ),
            models.CheckConstraint(
                condition=~Q(blending="exclusive")
                | Q(engaged_chat=0, engaged_email=0)
                | Q(engaged_chat=0, engaged_social=0)
                | Q(engaged_email=0, engaged_social=0),
                name="agentstate_exclusive_one_media",
            ),
            models.CheckConstraint(
                condition=Q(state="idle") | Q(idle_code__isnull=True),
                name="agentstate_idle_code_only_idle",
            ),
        ]
        indexes = [
            models.Index(
                fields=["tenant", "available_since"],
                condition=Q(state="available"),
                name="agentstate_available_order",
            ),
            models.Index(fields=["tenant", "state"], name="agentstate_tenant_state"),
            # Available agents with room, per channel type: a routing pass finds the few with
            # room without reading every available agent who is at capacity.
            *(
                models.Index(
                    fields=["tenant", "available_since", "agent"],
                    condition=Q(state="available") & room_q(media),
                    name=f"agentstate_room_{media}",
                )
                for media in MEDIA_TYPES
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agent}: {self.get_state_display()}"

    def engaged(self, channel_type: str) -> int:
        return getattr(self, f"engaged_{channel_type}")

    def maximum(self, channel_type: str) -> int:
        return getattr(self, f"max_{channel_type}")

    def has_room(self, channel_type: str) -> bool:
        if self.engaged(channel_type) >= self.maximum(channel_type):
            return False
        if self.blending == "exclusive":
            others = [m for m in ("chat", "email", "social") if m != channel_type]
            return all(self.engaged(m) == 0 for m in others)
        return True


class AgentStateChange(models.Model):
    """Every agent state change with its time (the care console draws from this)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="state_changes")
    state = models.CharField(max_length=12, choices=AgentStatus.choices)
    previous_state = models.CharField(max_length=12, choices=AgentStatus.choices, blank=True)
    idle_code = models.ForeignKey(
        IdleCode, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=40, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["agent", "-at"]), models.Index(fields=["tenant", "-at"])]

    def __str__(self) -> str:
        return f"{self.agent} -> {self.state} at {self.at:%H:%M:%S}"


class TaskStatus(models.TextChoices):
    WAITING = "waiting", "Waiting in queue"
    OFFERED = "offered", "Offered to an agent"
    ASSIGNED = "assigned", "Assigned"
    CLOSED = "closed", "Closed"


ACTIVE_TASK_STATUSES = (TaskStatus.WAITING, TaskStatus.OFFERED)


class Task(models.Model):
    """A routable contact in a queue. Order in a queue: priority, then time enqueued."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="routing_tasks")
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="routing_tasks"
    )
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="tasks")
    channel_type = models.CharField(max_length=10, choices=ChannelType.choices)
    priority = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(10)], help_text="1 = highest"
    )
    status = models.CharField(max_length=10, choices=TaskStatus.choices, default=TaskStatus.WAITING)
    enqueued_at = models.DateTimeField(default=timezone.now)
    queue_entered_at = models.DateTimeField(default=timezone.now)
    # As given; and the requirements in force after the relaxation steps applied so far.
    requirements = models.JSONField(default=list, blank=True)
    relaxation_steps = models.JSONField(default=list, blank=True)
    relaxation_level = models.PositiveSmallIntegerField(default=0)
    current_requirements = models.JSONField(default=list, blank=True)
    requirements_key = models.CharField(max_length=40, default="", blank=True)
    next_relaxation_at = models.DateTimeField(null=True, blank=True)
    overflow_at = models.DateTimeField(null=True, blank=True)
    variables = models.JSONField(default=dict, blank=True)
    agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="routing_tasks"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["priority", "enqueued_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "queue"],
                condition=Q(status__in=["waiting", "offered"]),
                name="task_one_active_per_conversation_queue",
            ),
            models.CheckConstraint(
                condition=Q(priority__gte=1, priority__lte=10), name="task_priority_1_to_10"
            ),
        ]
        indexes = [
            models.Index(
                fields=["queue", "priority", "enqueued_at", "id"],
                condition=Q(status="waiting"),
                name="task_waiting_order",
            ),
            models.Index(
                fields=["queue", "requirements_key", "priority", "enqueued_at", "id"],
                condition=Q(status="waiting"),
                name="task_waiting_signature_order",
            ),
            models.Index(
                fields=["next_relaxation_at"],
                condition=Q(next_relaxation_at__isnull=False),
                name="task_relaxation_due",
            ),
            models.Index(
                fields=["overflow_at"],
                condition=Q(overflow_at__isnull=False),
                name="task_overflow_due",
            ),
            models.Index(fields=["tenant", "status"], name="task_tenant_status"),
            models.Index(fields=["conversation", "status"], name="task_conversation_status"),
        ]

    def __str__(self) -> str:
        return f"Task {self.pk} in {self.queue}"


class OfferStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    EXPIRED = "expired", "Expired (RONA)"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Offer(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="offers")
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="offers")
    channel_type = models.CharField(max_length=10, choices=ChannelType.choices)
    status = models.CharField(
        max_length=10, choices=OfferStatus.choices, default=OfferStatus.PENDING
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # No task is ever offered to two agents at once.
            models.UniqueConstraint(
                fields=["task"], condition=Q(status="pending"), name="offer_one_pending_per_task"
            ),
            models.CheckConstraint(
                condition=Q(status="pending", decided_at__isnull=True)
                | (~Q(status="pending") & Q(decided_at__isnull=False)),
                name="offer_decided_iff_not_pending",
            ),
        ]
        indexes = [
            models.Index(
                fields=["expires_at"], condition=Q(status="pending"), name="offer_pending_due"
            ),
            models.Index(fields=["agent", "status"], name="offer_agent_status"),
            models.Index(fields=["task", "agent", "decided_at"], name="offer_task_agent"),
        ]

    def __str__(self) -> str:
        return f"Offer {self.pk} of task {self.task_id} to {self.agent_id}"


class TaskEventKind(models.TextChoices):
    QUEUED = "queued", "Queued"
    OFFERED = "offered", "Offered"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    RONA = "rona", "RONA"
    RELAXED = "relaxed", "Requirements relaxed"
    OVERFLOWED = "overflowed", "Overflowed"
    TRANSFERRED = "transferred", "Transferred"
    CLOSED = "closed", "Closed"


class TaskEvent(models.Model):
    """The task's routing timeline."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=12, choices=TaskEventKind.choices)
    at = models.DateTimeField(default=timezone.now)
    agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    offer = models.ForeignKey(
        Offer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["task", "at"])]

    def __str__(self) -> str:
        return f"{self.kind} at {self.at:%H:%M:%S}"


class AgentPreference(models.Model):
    """What an agent chose for their desktop; kept on the server so it follows them everywhere."""

    agent = models.OneToOneField(
        Agent, on_delete=models.CASCADE, primary_key=True, related_name="desktop_preference"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    sound_muted = models.BooleanField(default=False)
    # Queues whose offers are accepted at once; only queues that allow it count.
    auto_accept_queues = models.ManyToManyField(Queue, blank=True, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Desktop preferences of agent {self.agent_id}"


class ConversationNote(models.Model):
    """An internal note on a conversation: for agents and supervisors only, never sent anywhere."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="internal_notes"
    )
    author = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_name = models.CharField(max_length=160)
    text = models.TextField(max_length=4000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["conversation", "created_at"])]

    def __str__(self) -> str:
        return f"Note {self.pk} on conversation {self.conversation_id}"


class CannedResponse(models.Model):
    """A prepared reply agents insert with `/shortcut`; for the whole tenant or one team.

    The text may hold `{{customer.name}}`, `{{agent.name}}` and `{{conversation.<variable>}}`,
    filled by routing.canned.fill (a strict substitution, never a template engine)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="canned_responses")
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="canned_responses",
        help_text="Empty: every agent of the tenant sees it.",
    )
    shortcut = models.SlugField(
        max_length=40, help_text="Typed after / in the composer: letters, digits, - and _."
    )
    title = models.CharField(max_length=120)
    text = models.TextField(max_length=4096)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["shortcut"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "shortcut"],
                condition=Q(team__isnull=True),
                name="canned_unique_tenant_shortcut",
            ),
            models.UniqueConstraint(
                fields=["tenant", "team", "shortcut"], name="canned_unique_team_shortcut"
            ),
        ]

    def __str__(self) -> str:
        return f"/{self.shortcut} · {self.title}"

    def clean(self) -> None:
        from routing.canned import placeholders_unknown

        problems: dict[str, str] = {}
        if self.team_id and self.tenant_id and self.team.tenant_id != self.tenant_id:
            problems["team"] = "Choose one of this tenant's teams."
        if self.tenant_id and self.shortcut:
            same = CannedResponse.objects.filter(
                tenant_id=self.tenant_id, team_id=self.team_id, shortcut=self.shortcut
            ).exclude(pk=self.pk)
            if same.exists():
                where = "in this team" if self.team_id else "tenant-wide"
                problems["shortcut"] = f"/{self.shortcut} is taken {where}."
        unknown = placeholders_unknown(self.text or "")
        if unknown:
            problems["text"] = (
                "Unknown placeholders: "
                + ", ".join("{{" + u + "}}" for u in unknown)
                + ". Use {{customer.name}}, {{agent.name}} or {{conversation.<variable>}}."
            )
        if problems:
            raise ValidationError(problems)
