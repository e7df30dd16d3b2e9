import secrets
import uuid

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from tenants.roles import AdminRole, CareProfile, ConnectRole, TenantKind


def validate_time_zone(value: str) -> None:
    import zoneinfo

    from django.core.exceptions import ValidationError

    if value and value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone (like Europe/Berlin).")


def validate_locale(value: str) -> None:
    from babel import Locale, UnknownLocaleError
    from django.core.exceptions import ValidationError

    if not value:
        return
    try:
        Locale.parse(value.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        raise ValidationError(f"{value!r} is not a known locale (like de_DE or en).") from None


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("an email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with an email address. Tenant roles live on Membership."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    # Platform operators only; tenant admins reach the console through their membership.
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class Tenant(models.Model):
    """A customer organisation, or a partner that manages several customer tenants."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    kind = models.CharField(max_length=20, choices=TenantKind.choices, default=TenantKind.CUSTOMER)
    partner = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="customer_tenants",
        limit_choices_to={"kind": TenantKind.PARTNER},
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(partner__isnull=True) | Q(kind=TenantKind.CUSTOMER),
                name="tenant_only_customers_have_partner",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TenantPolicy(models.Model):
    """Tenant-wide policies: RONA timeouts per channel type, inactivity auto-close, retention."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="policy")
    rona_chat_seconds = models.PositiveIntegerField(
        default=30, validators=[MinValueValidator(5), MaxValueValidator(600)]
    )
    rona_email_seconds = models.PositiveIntegerField(
        default=120, validators=[MinValueValidator(5), MaxValueValidator(3600)]
    )
    rona_social_seconds = models.PositiveIntegerField(
        default=60, validators=[MinValueValidator(5), MaxValueValidator(3600)]
    )
    inactivity_close_minutes = models.PositiveIntegerField(
        default=24 * 60,
        validators=[MinValueValidator(5), MaxValueValidator(30 * 24 * 60)],
        help_text="Close a conversation with no message for this long.",
    )
    transcript_retention_days = models.PositiveIntegerField(
        default=365, validators=[MinValueValidator(1), MaxValueValidator(3650)]
    )
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="The agents' time zone unless they set their own.",
    )
    locale = models.CharField(
        max_length=16,
        default="en",
        validators=[validate_locale],
        help_text="The agents' locale unless they set their own.",
    )

    class Meta:
        ordering = ["tenant_id"]
        verbose_name_plural = "tenant policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(rona_chat_seconds__gte=5, rona_chat_seconds__lte=600),
                name="policy_rona_chat_bounded",
            ),
            models.CheckConstraint(
                condition=Q(rona_email_seconds__gte=5, rona_email_seconds__lte=3600),
                name="policy_rona_email_bounded",
            ),
            models.CheckConstraint(
                condition=Q(rona_social_seconds__gte=5, rona_social_seconds__lte=3600),
                name="policy_rona_social_bounded",
            ),
            models.CheckConstraint(
                condition=Q(inactivity_close_minutes__gte=5, inactivity_close_minutes__lte=43200),
                name="policy_inactivity_bounded",
            ),
            models.CheckConstraint(
                condition=Q(transcript_retention_days__gte=1, transcript_retention_days__lte=3650),
                name="policy_retention_bounded",
            ),
        ]

    def __str__(self) -> str:
        return f"Policies of {self.tenant}"

    def rona_seconds(self, channel_type: str) -> int:
        """channel_type is one of chat / email / social."""
        return {
            "chat": self.rona_chat_seconds,
            "email": self.rona_email_seconds,
            "social": self.rona_social_seconds,
        }[channel_type]


class Membership(models.Model):
    """A user's place in a tenant: admin role, workspace role and contact-center profile."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    admin_role = models.CharField(max_length=30, choices=AdminRole.choices, default=AdminRole.NONE)
    connect_role = models.CharField(
        max_length=30, choices=ConnectRole.choices, default=ConnectRole.NONE
    )
    care_profile = models.CharField(
        max_length=20, choices=CareProfile.choices, default=CareProfile.NONE
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["tenant", "user__email"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "tenant"], name="membership_unique_user_tenant"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant}"

    @property
    def is_admin(self) -> bool:
        return self.admin_role != AdminRole.NONE


class RoleChange(models.Model):
    """Who changed whose roles in a tenant, from what to what, and when. Written by the services."""

    class Action(models.TextChoices):
        JOINED = "joined", "Joined"
        CHANGED = "changed", "Changed"
        REMOVED = "removed", "Removed"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="role_changes")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept as text so the record outlives the account.
    user_email = models.EmailField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    changed_by_email = models.EmailField(blank=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    admin_role_before = models.CharField(max_length=30, blank=True)
    admin_role_after = models.CharField(max_length=30, blank=True)
    connect_role_before = models.CharField(max_length=30, blank=True)
    connect_role_after = models.CharField(max_length=30, blank=True)
    care_profile_before = models.CharField(max_length=20, blank=True)
    care_profile_after = models.CharField(max_length=20, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["tenant", "-at"])]

    def __str__(self) -> str:
        return f"{self.user_email} {self.action} in {self.tenant} by {self.changed_by_email or 'the system'}"


class Invitation(models.Model):
    """An admin's invitation: the invitee creates the account within the validity window."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    admin_role = models.CharField(max_length=30, choices=AdminRole.choices, default=AdminRole.NONE)
    connect_role = models.CharField(
        max_length=30, choices=ConnectRole.choices, default=ConnectRole.NONE
    )
    care_profile = models.CharField(
        max_length=20, choices=CareProfile.choices, default=CareProfile.NONE
    )
    # The agent profile an invitee with the agent care profile gets on accepting.
    team = models.ForeignKey(
        "Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    site = models.ForeignKey(
        "Site",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty: the team's site.",
    )
    multimedia_profile = models.ForeignKey(
        "MultimediaProfile",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty: the site's multimedia profile.",
    )
    token = models.CharField(
        max_length=64, unique=True, default=secrets.token_urlsafe, editable=False
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "email"])]

    def __str__(self) -> str:
        # Read by the console before the tenant is set on a new invitation.
        if self.tenant_id is None:
            return f"Invitation of {self.email}"
        return f"Invitation of {self.email} to {self.tenant}"

    @property
    def is_expired(self) -> bool:
        return self.accepted_at is None and timezone.now() >= self.expires_at

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        return "expired" if self.is_expired else "pending"


class Blending(models.TextChoices):
    BLENDED = "blended", "Blended (each media type up to its own maximum)"
    EXCLUSIVE = "exclusive", "Exclusive (one media type at a time)"


class MultimediaProfile(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="multimedia_profiles")
    name = models.CharField(max_length=120)
    max_chat = models.PositiveSmallIntegerField(default=3, validators=[MaxValueValidator(50)])
    max_email = models.PositiveSmallIntegerField(default=1, validators=[MaxValueValidator(50)])
    max_social = models.PositiveSmallIntegerField(default=3, validators=[MaxValueValidator(50)])
    blending = models.CharField(max_length=20, choices=Blending.choices, default=Blending.BLENDED)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="mmprofile_unique_name"),
            models.CheckConstraint(
                condition=Q(max_chat__lte=50, max_email__lte=50, max_social__lte=50),
                name="mmprofile_max_bounded",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def max_for(self, channel_type: str) -> int:
        return {"chat": self.max_chat, "email": self.max_email, "social": self.max_social}[
            channel_type
        ]


class Site(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="sites")
    name = models.CharField(max_length=120)
    multimedia_profile = models.ForeignKey(
        MultimediaProfile, on_delete=models.PROTECT, related_name="sites"
    )

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="site_unique_name")]

    def __str__(self) -> str:
        return self.name


class Team(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="teams")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="teams")
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="team_unique_name")]

    def __str__(self) -> str:
        return self.name


class Agent(models.Model):
    """A user with the agent profile, placed in a team and a site with a multimedia profile."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="agents")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agents"
    )
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="agents")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="agents")
    multimedia_profile = models.ForeignKey(
        MultimediaProfile, on_delete=models.PROTECT, related_name="agents"
    )
    display_name = models.CharField(max_length=120, blank=True)
    # How the desktop writes dates, times and numbers for this agent; empty: the tenant's.
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text="An IANA time zone (Europe/Berlin); empty: the tenant's.",
    )
    locale = models.CharField(
        max_length=16,
        blank=True,
        validators=[validate_locale],
        help_text="A locale (de_DE, en_GB); empty: the tenant's.",
    )

    class Meta:
        ordering = ["display_name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="agent_unique_user")]

    def __str__(self) -> str:
        return self.display_name or str(self.user)


class IdleCode(models.Model):
    """A tenant-defined reason for being idle (break, meeting, training)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="idle_codes")
    name = models.CharField(max_length=80)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="idlecode_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class WrapUpCode(models.Model):
    """What an agent records when closing a conversation (resolved, follow-up, spam, ...)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="wrap_up_codes")
    name = models.CharField(max_length=80)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="wrapupcode_unique_name")
        ]

    def __str__(self) -> str:
        return self.name
