"""Who sees what in the care console.

Tenant admins see the whole tenant; a supervisor sees the teams and queues of their
SupervisorScope; partner admins and agents get 403; another tenant's ids do not exist (404).
"""

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from care_console.models import SupervisorScope
from channels_app.models import Conversation
from routing.models import Queue, Task
from tenants.access import user_can
from tenants.models import Agent, Membership, Team, Tenant, User
from tenants.roles import AdminRole


@dataclass(frozen=True)
class CareScope:
    tenant: Tenant
    user_id: int
    everything: bool
    can_change: bool
    team_ids: frozenset[int] = field(default_factory=frozenset)
    queue_ids: frozenset[int] = field(default_factory=frozenset)

    def teams(self) -> QuerySet[Team]:
        teams = Team.objects.filter(tenant=self.tenant)
        return teams if self.everything else teams.filter(pk__in=self.team_ids)

    def queues(self) -> QuerySet[Queue]:
        queues = Queue.objects.filter(tenant=self.tenant)
        return queues if self.everything else queues.filter(pk__in=self.queue_ids)

    def agents(self) -> QuerySet[Agent]:
        agents = Agent.objects.filter(tenant=self.tenant)
        return agents if self.everything else agents.filter(team_id__in=self.team_ids)

    def conversations(self) -> QuerySet[Conversation]:
        """Conversations owned by an agent of a granted team or routed through a granted queue."""
        conversations = Conversation.objects.filter(tenant=self.tenant)
        if self.everything:
            return conversations
        in_queue = Task.objects.filter(
            conversation_id=OuterRef("pk"), queue_id__in=list(self.queue_ids)
        )
        return conversations.filter(Q(owner__team_id__in=list(self.team_ids)) | Q(Exists(in_queue)))

    def sees_agent(self, agent_id: int | None, team_id: int | None) -> bool:
        return self.everything or (team_id is not None and team_id in self.team_ids)

    def sees_queue(self, queue_id: int | None) -> bool:
        return self.everything or (queue_id is not None and queue_id in self.queue_ids)


def care_scope_for_user(*, user: User, tenant: Tenant | None) -> CareScope:
    """The user's view of the care console in their current tenant; 403 for everyone else."""
    if not user.is_authenticated:
        raise PermissionDenied("Sign in first.")
    if tenant is None or not user_can(user=user, tenant=tenant, object_type="conversation"):
        raise PermissionDenied("The care console is for supervisors and tenant admins.")
    can_change = user_can(user=user, tenant=tenant, object_type="conversation", action="change")
    is_admin = (
        user.is_superuser
        or Membership.objects.filter(user=user, tenant=tenant)
        .exclude(admin_role=AdminRole.NONE)
        .exists()
    )
    if is_admin:
        return CareScope(tenant=tenant, user_id=user.pk, everything=True, can_change=can_change)
    scope = SupervisorScope.objects.filter(tenant=tenant, user=user).first()
    team_ids = frozenset(scope.teams.values_list("pk", flat=True)) if scope else frozenset()
    queue_ids = frozenset(scope.queues.values_list("pk", flat=True)) if scope else frozenset()
    return CareScope(
        tenant=tenant,
        user_id=user.pk,
        everything=False,
        can_change=can_change,
        team_ids=team_ids,
        queue_ids=queue_ids,
    )


def _int_or_404(value) -> int:
    if not str(value).isdigit():
        raise Http404("No such object.")
    return int(value)


def conversation_for_scope(*, scope: CareScope, conversation_id) -> Conversation:
    conversation = (
        scope.conversations()
        .select_related("customer", "asset", "identity", "owner")
        .filter(pk=_int_or_404(conversation_id))
        .first()
    )
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


def agent_for_scope(*, scope: CareScope, agent_id) -> Agent:
    agent = scope.agents().select_related("multimedia_profile").filter(pk=_int_or_404(agent_id))
    found = agent.first()
    if found is None:
        raise Http404("No such agent.")
    return found


def queue_for_scope(*, scope: CareScope, queue_id) -> Queue:
    queue = scope.queues().filter(pk=_int_or_404(queue_id)).first()
    if queue is None:
        raise Http404("No such queue.")
    return queue


def require_change(scope: CareScope) -> None:
    if not scope.can_change:
        raise PermissionDenied("You may only read conversations in this tenant.")
