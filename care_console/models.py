"""What a supervisor may see in the care console: the teams and queues they are granted."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from routing.models import Queue
from tenants.models import Team, Tenant


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
