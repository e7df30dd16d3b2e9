from django.db import models
from django.utils import timezone

from tenants.models import Tenant


class Flow(models.Model):
    """A flow an admin designs; its versions hold the node graph."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="flows")
    name = models.CharField(max_length=120)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="flow_unique_name")]

    def __str__(self) -> str:
        return self.name
