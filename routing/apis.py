"""REST endpoints of routing under /api/v1/routing/, tenant-scoped with the permission matrix."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.http import Http404
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from channels_app.models import Conversation
from routing import selectors, services
from routing.models import (
    AgentSkillProfile,
    AgentState,
    EntryPoint,
    Offer,
    Queue,
    Skill,
    SkillProfile,
    SkillProfileValue,
    Task,
    TeamSkillProfile,
)
from routing.serializers import (
    AgentSkillProfileSerializer,
    AgentStateChangeSerializer,
    AgentStateSerializer,
    AgentStateSetSerializer,
    EntryPointSerializer,
    OfferSerializer,
    QueueSerializer,
    SkillProfileSerializer,
    SkillSerializer,
    TaskCloseSerializer,
    TaskEnqueueSerializer,
    TaskEventSerializer,
    TaskSerializer,
    TeamSkillProfileSerializer,
)
from routing.services.tasks import offer_payloads
from tenants.access import object_for_user, tenants_for_user
from tenants.api_base import TenantScopedViewSet, django_errors_to_drf
from tenants.models import Agent, IdleCode


def _drf(exc: DjangoValidationError) -> exceptions.ValidationError:
    return django_errors_to_drf(exc)


class EntryPointViewSet(TenantScopedViewSet):
    object_type = "entry_point"
    queryset = EntryPoint.objects.all()
    serializer_class = EntryPointSerializer
    filterset_fields = ["channel_type"]
    search_fields = ["name"]


class QueueViewSet(TenantScopedViewSet):
    object_type = "queue"
    queryset = Queue.objects.prefetch_related("teams")
    serializer_class = QueueSerializer
    filterset_fields = ["channel_type", "routing_type", "default"]
    search_fields = ["name"]

    def perform_destroy(self, instance):
        try:
            instance.delete()
        except Exception as exc:  # PROTECT: tasks or overflow sources still point here
            from django.db.models import ProtectedError

            if isinstance(exc, ProtectedError):
                raise exceptions.ValidationError(
                    {
                        "detail": "The queue has tasks or is another queue's overflow; it cannot be deleted."
                    }
                ) from exc
            raise

    @action(detail=False, methods=["get"])
    def stats(self, request):
        """Waiting and offered contacts per queue, and the longest wait."""
        tenant_id = request.query_params.get("tenant")
        tenants = tenants_for_user(user=request.user, object_type="queue")
        tenant = (
            tenants.filter(pk=tenant_id).first()
            if tenant_id and tenant_id.isdigit()
            else tenants.first()
        )
        if tenant is None:
            raise Http404("No such tenant.")
        return Response(selectors.queue_stats(tenant=tenant))


class SkillViewSet(TenantScopedViewSet):
    object_type = "skill"
    queryset = Skill.objects.all()
    serializer_class = SkillSerializer
    filterset_fields = ["type"]
    search_fields = ["name"]


class SkillProfileViewSet(TenantScopedViewSet):
    object_type = "skill_profile"
    queryset = SkillProfile.objects.prefetch_related(
        Prefetch("values", queryset=SkillProfileValue.objects.select_related("skill"))
    )
    serializer_class = SkillProfileSerializer
    search_fields = ["name"]

    def _save(self, serializer, **extra):
        values = serializer.validated_data.pop("values", None)
        try:
            with transaction.atomic():
                profile = serializer.save(**extra)
                if values is not None:
                    services.skill_profile_values_replace(profile=profile, values=values)
        except DjangoValidationError as exc:
            raise (
                _drf(exc)
                if not hasattr(exc, "error_dict")
                else exceptions.ValidationError({"values": exc.message_dict})
            ) from exc
        except IntegrityError as exc:
            raise exceptions.ValidationError(
                {"name": "A skill profile with this name exists."}
            ) from exc

    def perform_create(self, serializer):
        self._save(serializer, tenant=serializer.context["tenant"])

    def perform_update(self, serializer):
        self._save(serializer)

    def perform_destroy(self, instance):
        if instance.agent_assignments.exists() or instance.team_assignments.exists():
            raise exceptions.ValidationError(
                {"detail": "Agents or teams use this profile; assign them another first."}
            )
        instance.delete()


class _AssignmentViewSet(TenantScopedViewSet):
    object_type = "skill_profile"
    holder_field = ""

    def perform_create(self, serializer):
        self._set(
            serializer.validated_data[self.holder_field],
            serializer.validated_data["profile"],
            serializer,
        )

    def perform_update(self, serializer):
        holder = serializer.validated_data.get(
            self.holder_field, getattr(serializer.instance, self.holder_field)
        )
        if holder != getattr(serializer.instance, self.holder_field):
            raise exceptions.ValidationError(
                {self.holder_field: "Cannot change; assign a profile to the other one."}
            )
        self._set(
            holder,
            serializer.validated_data.get("profile", serializer.instance.profile),
            serializer,
        )

    def perform_destroy(self, instance):
        self._assign(getattr(instance, self.holder_field), None)

    def _set(self, holder, profile, serializer):
        try:
            serializer.instance = self._assign(holder, profile)
        except DjangoValidationError as exc:
            raise _drf(exc) from exc


class AgentSkillProfileViewSet(_AssignmentViewSet):
    queryset = AgentSkillProfile.objects.order_by("pk")
    serializer_class = AgentSkillProfileSerializer
    holder_field = "agent"

    def _assign(self, holder, profile):
        return services.agent_skill_profile_set(agent=holder, profile=profile)


class TeamSkillProfileViewSet(_AssignmentViewSet):
    queryset = TeamSkillProfile.objects.order_by("pk")
    serializer_class = TeamSkillProfileSerializer
    holder_field = "team"

    def _assign(self, holder, profile):
        return services.team_skill_profile_set(team=holder, profile=profile)


class TaskViewSet(TenantScopedViewSet):
    """Tasks: supervisors see and close them; POST enqueues a conversation (as a QueueTask node does)."""

    object_type = "task"
    queryset = Task.objects.all()
    serializer_class = TaskSerializer
    filterset_fields = ["status", "queue", "conversation", "agent"]
    ordering_fields = ["priority", "enqueued_at"]
    http_method_names = ["get", "post", "head", "options"]

    def create(self, request, *args, **kwargs):
        tenant = self._tenant_for_create()
        data = TaskEnqueueSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        conversation = Conversation.objects.filter(tenant=tenant, pk=values["conversation"]).first()
        queue = Queue.objects.filter(tenant=tenant, pk=values["queue"]).first()
        if conversation is None:
            raise exceptions.ValidationError(
                {"conversation": "No such conversation in this tenant."}
            )
        if queue is None:
            raise exceptions.ValidationError({"queue": "No such queue in this tenant."})
        try:
            task = services.task_enqueue(
                conversation=conversation,
                queue=queue,
                priority=values["priority"],
                requirements=values["requirements"],
                relaxation_steps=values["relaxation_steps"],
                variables=values["variables"],
            )
        except DjangoValidationError as exc:
            raise _drf(exc) from exc
        task.refresh_from_db()
        return Response(TaskSerializer(task).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        task = object_for_user(
            user=request.user,
            queryset=Task.objects.all(),
            pk=pk,
            object_type="task",
            action="change",
        )
        body = TaskCloseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            task = services.task_close(task=task, reason=body.validated_data["reason"])
        except DjangoValidationError as exc:
            raise _drf(exc) from exc
        return Response(TaskSerializer(task).data)

    @action(detail=True, methods=["get"])
    def events(self, request, pk=None):
        task = self.get_object()
        return Response(TaskEventSerializer(selectors.task_timeline(task=task), many=True).data)


class AgentStateViewSet(TenantScopedViewSet):
    """Agents' routing states for the care console (read-only; agents set their own under /me/)."""

    object_type = "agent"
    queryset = AgentState.objects.select_related("agent").order_by("agent_id")
    serializer_class = AgentStateSerializer
    filterset_fields = ["state", "team"]
    http_method_names = ["get", "head", "options"]

    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        state = self.get_object()
        return Response(
            AgentStateChangeSerializer(
                selectors.agent_state_history(agent=state.agent), many=True
            ).data
        )


class MeViewSet(viewsets.ViewSet):
    """The signed-in agent's own state and offers (the desktop's REST fallback)."""

    permission_classes = [IsAuthenticated]

    def _agent(self, request) -> Agent:
        tenant = getattr(request, "tenant", None)
        from tenants.selectors import agent_for_user

        agent = agent_for_user(user=request.user, tenant=tenant) or agent_for_user(
            user=request.user
        )
        if agent is None:
            raise Http404("You are not an agent.")
        return agent

    @action(detail=False, methods=["get", "put"])
    def state(self, request):
        agent = self._agent(request)
        if request.method == "PUT":
            body = AgentStateSetSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            idle_code = None
            if body.validated_data.get("idle_code") is not None:
                idle_code = IdleCode.objects.filter(
                    tenant_id=agent.tenant_id, pk=body.validated_data["idle_code"]
                ).first()
                if idle_code is None:
                    raise exceptions.ValidationError(
                        {"idle_code": "No such idle code in this tenant."}
                    )
            try:
                services.agent_state_set(
                    agent=agent, state=body.validated_data["state"], idle_code=idle_code
                )
            except DjangoValidationError as exc:
                raise _drf(exc) from exc
        return Response(AgentStateSerializer(selectors.agent_state_get(agent=agent)).data)

    @action(detail=False, methods=["get"])
    def offers(self, request):
        agent = self._agent(request)
        offers = list(selectors.agent_pending_offers(agent=agent))
        payloads = offer_payloads(offers)
        return Response([payloads[o.pk] for o in offers])

    def _decide(self, request, pk, service):
        offer = (
            Offer.objects.filter(pk=pk, agent__user=request.user).select_related("agent").first()
        )
        if offer is None:
            raise Http404("No such offer.")
        try:
            offer = service(offer_id=offer.pk, agent=offer.agent)
        except DjangoValidationError as exc:
            raise exceptions.ValidationError({"detail": exc.messages}) from exc
        return Response(OfferSerializer(offer).data)

    @action(detail=False, methods=["post"], url_path=r"offers/(?P<pk>\d+)/accept")
    def accept(self, request, pk=None):
        return self._decide(request, pk, services.offer_accept)

    @action(detail=False, methods=["post"], url_path=r"offers/(?P<pk>\d+)/decline")
    def decline(self, request, pk=None):
        return self._decide(request, pk, services.offer_decline)


def register(router: DefaultRouter) -> None:
    """Adds this app's REST endpoints to /api/v1/."""
    router.register("routing/entry-points", EntryPointViewSet, basename="routing-entry-point")
    router.register("routing/queues", QueueViewSet, basename="routing-queue")
    router.register("routing/skills", SkillViewSet, basename="routing-skill")
    router.register("routing/skill-profiles", SkillProfileViewSet, basename="routing-skill-profile")
    router.register(
        "routing/agent-skill-profiles",
        AgentSkillProfileViewSet,
        basename="routing-agent-skill-profile",
    )
    router.register(
        "routing/team-skill-profiles",
        TeamSkillProfileViewSet,
        basename="routing-team-skill-profile",
    )
    router.register("routing/tasks", TaskViewSet, basename="routing-task")
    router.register("routing/agent-states", AgentStateViewSet, basename="routing-agent-state")
    router.register("routing/me", MeViewSet, basename="routing-me")
