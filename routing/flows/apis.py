"""REST endpoints of flows and variables: /api/v1/flows/, flow-runs/, flow-global-variables/,
flow-node-authorizations/, flow-business-calendars/."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from routing.flows import selectors, services
from routing.flows.models import (
    AuthorizableNode,
    BusinessCalendar,
    Flow,
    FlowRun,
    FlowRunStep,
    FlowVersion,
    GlobalVariable,
    NodeAuthorization,
)
from tenants.access import tenant_for_user, tenants_reachable, user_can
from tenants.api_base import TenantScopedSerializer, TenantScopedViewSet, django_errors_to_drf
from tenants.models import Tenant


def _tenant_for(request, *, object_type: str, action: str) -> Tenant:
    raw = request.data.get("tenant") if hasattr(request.data, "get") else None
    if raw in (None, ""):
        reachable = list(tenants_reachable(user=request.user)[:2])
        current = getattr(request, "tenant", None)
        if len(reachable) == 1:
            raw = reachable[0].pk
        elif current is not None:
            raw = current.pk
        else:
            raise exceptions.ValidationError({"tenant": "required: you belong to several tenants"})
    if not str(raw).isdigit():
        raise exceptions.ValidationError({"tenant": "must be a tenant id"})
    try:
        return tenant_for_user(
            user=request.user, tenant_id=int(raw), object_type=object_type, action=action
        )
    except DjangoPermissionDenied as exc:
        raise exceptions.PermissionDenied(str(exc)) from exc


def _problems_response(exc: DjangoValidationError) -> Response:
    if isinstance(exc, services.FlowValidationError):
        body = {"detail": "The flow has problems.", "problems": [p.as_dict() for p in exc.problems]}
    elif hasattr(exc, "message_dict"):
        body = exc.message_dict
    else:
        body = {"detail": " ".join(exc.messages)}
    return Response(body, status=status.HTTP_400_BAD_REQUEST)


def _require(request, tenant: Tenant, object_type: str, action: str) -> None:
    if not user_can(user=request.user, tenant=tenant, object_type=object_type, action=action):
        raise exceptions.PermissionDenied(
            f"You may not {action} {object_type.replace('_', ' ')}s here."
        )


class FlowVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = FlowVersion
        fields = ("id", "number", "status", "note", "definition", "created_at", "published_at")


class FlowSerializer(serializers.ModelSerializer):
    current_version = serializers.SerializerMethodField()

    class Meta:
        model = Flow
        fields = (
            "id",
            "tenant",
            "name",
            "kind",
            "description",
            "template_name",
            "template_version",
            "current_version",
            "created_at",
        )

    def get_current_version(self, obj: Flow) -> int | None:
        numbers = [v.number for v in obj.versions.all() if v.status == FlowVersion.Status.PUBLISHED]
        return max(numbers, default=None)


class ImportSerializer(serializers.Serializer):
    document = serializers.JSONField(required=False)
    template = serializers.CharField(required=False)
    name = serializers.CharField(required=False, max_length=120)
    publish = serializers.BooleanField(default=True)

    def validate(self, attrs):
        if ("document" in attrs) == ("template" in attrs):
            raise serializers.ValidationError(
                "Give either document (a flow) or template (a template name)."
            )
        return attrs


class DryRunSerializer(serializers.Serializer):
    text = serializers.CharField(required=False, allow_blank=True, default="")
    replies = serializers.ListField(
        child=serializers.CharField(allow_blank=True), required=False, default=list
    )
    variables = serializers.DictField(required=False, default=dict)
    version = serializers.IntegerField(required=False, min_value=1)
    definition = serializers.JSONField(required=False)
    http = serializers.BooleanField(
        default=False,
        help_text="Make the GET requests of HTTP nodes for real (needs permission to change flows); "
        "otherwise they answer a simulated 200.",
    )


class FlowViewSet(viewsets.ReadOnlyModelViewSet):
    """Flows: list, retrieve, import, versions, publish, migrate, dry run."""

    serializer_class = FlowSerializer
    queryset = Flow.objects.prefetch_related("versions")
    object_type = "flow"

    def get_queryset(self):
        from tenants.access import tenants_for_user

        queryset = (
            super()
            .get_queryset()
            .filter(tenant__in=tenants_for_user(user=self.request.user, object_type="flow"))
        )
        tenant_id = self.request.query_params.get("tenant")
        if tenant_id:
            if not tenant_id.isdigit():
                raise exceptions.ValidationError({"tenant": "must be a tenant id"})
            queryset = queryset.filter(tenant_id=int(tenant_id))
        return queryset

    @action(detail=False, methods=["post"], url_path="import", serializer_class=ImportSerializer)
    def import_(self, request):
        tenant = _tenant_for(request, object_type="flow", action="add")
        body = ImportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            if "template" in data:
                flow = services.flow_import_template(
                    tenant=tenant,
                    template_name=data["template"],
                    user=request.user,
                    name=data.get("name"),
                    publish=data["publish"],
                )
                version = selectors.flow_version_latest(flow=flow)
            else:
                version = services.flow_import(
                    tenant=tenant,
                    document=data["document"],
                    user=request.user,
                    name=data.get("name"),
                    publish=data["publish"],
                )
        except DjangoPermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc)) from exc
        except DjangoValidationError as exc:
            return _problems_response(exc)
        flow = Flow.objects.prefetch_related("versions").get(pk=version.flow_id)
        return Response(
            {"flow": FlowSerializer(flow).data, "version": FlowVersionSerializer(version).data},
            status=status.HTTP_201_CREATED,
        )

    @action(detail=True, methods=["get", "post"], serializer_class=FlowVersionSerializer)
    def versions(self, request, pk=None):
        flow = self.get_object()
        if request.method == "GET":
            return Response(
                FlowVersionSerializer(flow.versions.order_by("-number"), many=True).data
            )
        _require(request, flow.tenant, "flow", "change")
        try:
            version = services.flow_version_create(
                flow=flow,
                definition=request.data.get("definition"),
                user=request.user,
                note=str(request.data.get("note", "")),
            )
        except DjangoValidationError as exc:
            return _problems_response(exc)
        return Response(FlowVersionSerializer(version).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        flow = self.get_object()
        _require(request, flow.tenant, "flow", "change")
        number = request.data.get("version")
        version = (
            flow.versions.filter(number=number).first()
            if str(number or "").isdigit()
            else selectors.flow_version_latest(flow=flow)
        )
        if version is None:
            return Response(
                {"version": "No such version of this flow."}, status=status.HTTP_400_BAD_REQUEST
            )
        try:
            version = services.flow_version_publish(version=version, user=request.user)
        except DjangoValidationError as exc:
            return _problems_response(exc)
        return Response(FlowVersionSerializer(version).data)

    @action(detail=True, methods=["post"])
    def migrate(self, request, pk=None):
        flow = self.get_object()
        _require(request, flow.tenant, "flow", "change")
        to_version = request.data.get("to_version")
        if to_version is not None and not str(to_version).isdigit():
            return Response(
                {"to_version": "must be a template version number"},
                status=status.HTTP_400_BAD_REQUEST,
            )
        try:
            result = services.flow_migrate(
                flow=flow, user=request.user, to_version=int(to_version) if to_version else None
            )
        except DjangoValidationError as exc:
            return _problems_response(exc)
        return Response(
            {
                "version": FlowVersionSerializer(result.version).data,
                "from_template_version": result.from_template_version,
                "to_template_version": result.to_template_version,
                "kept_settings": result.kept_settings,
                "kept_nodes": result.kept_nodes,
                "dropped_edges": result.dropped_edges,
            }
        )

    @action(detail=True, methods=["post"], url_path="dry-run", serializer_class=DryRunSerializer)
    def dry_run(self, request, pk=None):
        flow = self.get_object()
        body = DryRunSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        may_change = user_can(
            user=request.user, tenant=flow.tenant, object_type="flow", action="change"
        )
        if "definition" in data and not may_change:
            raise exceptions.PermissionDenied(
                "Dry-running a definition of your own needs permission to change flows; "
                "leave out definition to dry-run a stored version."
            )
        if data["http"] and not may_change:
            raise exceptions.PermissionDenied(
                "Real HTTP requests in a dry run need permission to change flows; "
                "leave out http to get simulated answers."
            )
        if "definition" in data:
            definition = data["definition"]
        else:
            version = (
                flow.versions.filter(number=data["version"]).first()
                if "version" in data
                else selectors.flow_version_latest(flow=flow)
            )
            if version is None:
                return Response(
                    {"version": "No such version of this flow."}, status=status.HTTP_400_BAD_REQUEST
                )
            definition = version.definition
        try:
            result = services.flow_dry_run(
                tenant=flow.tenant,
                definition=definition,
                text=data["text"],
                variables=data["variables"],
                replies=data["replies"],
                allow_http=data["http"],
            )
        except DjangoValidationError as exc:
            return _problems_response(exc)
        return Response(result)

    @action(detail=True, methods=["get"])
    def diagram(self, request, pk=None):
        """The newest (or ?version=N) version as an SVG diagram."""
        from django.http import HttpResponse

        from routing.flows.diagram import flow_svg

        flow = self.get_object()
        number = request.query_params.get("version", "")
        version = (
            flow.versions.filter(number=int(number)).first()
            if number.isdigit()
            else selectors.flow_version_latest(flow=flow)
        )
        if version is None:
            raise exceptions.NotFound("No such version of this flow.")
        return HttpResponse(flow_svg(version.definition), content_type="image/svg+xml")

    @action(detail=False, methods=["get"])
    def templates(self, request):
        from routing.flows.templates import template_list

        return Response(
            [{"name": name, "versions": versions} for name, versions in template_list().items()]
        )


class FlowRunStepSerializer(serializers.ModelSerializer):
    class Meta:
        model = FlowRunStep
        fields = (
            "seq",
            "node_id",
            "node_type",
            "inputs",
            "outputs",
            "path",
            "next_node",
            "error",
            "at",
        )


class FlowRunSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="flow_version.number", read_only=True)
    steps = FlowRunStepSerializer(many=True, read_only=True)

    class Meta:
        model = FlowRun
        fields = (
            "id",
            "tenant",
            "flow",
            "version",
            "conversation",
            "trigger",
            "status",
            "current_node",
            "due_at",
            "error",
            "started_at",
            "finished_at",
            "steps",
        )


class FlowRunViewSet(TenantScopedViewSet):
    """Flow runs with every step: why a contact went where it went. Step inputs and outputs hold
    what customers wrote, so runs need the same permission as transcripts."""

    object_type = "conversation"
    serializer_class = FlowRunSerializer
    queryset = FlowRun.objects.select_related("flow_version").prefetch_related("steps")
    http_method_names = ["get", "head", "options"]
    filterset_fields = ("conversation", "flow", "status")


class GlobalVariableSerializer(TenantScopedSerializer):
    class Meta:
        model = GlobalVariable
        fields = (
            "id",
            "tenant",
            "name",
            "label",
            "type",
            "default",
            "description",
            "agent_visible",
            "agent_editable",
            "reportable",
        )
        read_only_fields = ("tenant",)
        validators: list = []

    def validate(self, attrs):
        attrs = super().validate(attrs)
        merged = (
            {field: getattr(self.instance, field) for field in self.Meta.fields[2:]}
            if self.instance
            else {}
        )
        merged.update(attrs)
        merged.setdefault("type", "string")
        problems = services.global_variable_check(
            variable=GlobalVariable(
                **{
                    k: merged.get(k)
                    for k in ("name", "type", "default", "agent_visible", "agent_editable")
                    if k in merged
                }
            )
        )
        if problems:
            raise serializers.ValidationError(problems)
        return attrs


class GlobalVariableViewSet(TenantScopedViewSet):
    object_type = "global_variable"
    serializer_class = GlobalVariableSerializer
    queryset = GlobalVariable.objects.all()

    def perform_create(self, serializer):
        variable = GlobalVariable(tenant=serializer.context["tenant"], **serializer.validated_data)
        try:
            serializer.instance = services.global_variable_save(variable=variable)
        except DjangoValidationError as exc:
            raise django_errors_to_drf(exc) from exc

    def perform_update(self, serializer):
        variable = serializer.instance
        for field, value in serializer.validated_data.items():
            setattr(variable, field, value)
        try:
            services.global_variable_save(variable=variable)
        except DjangoValidationError as exc:
            raise django_errors_to_drf(exc) from exc


class NodeAuthorizationSerializer(serializers.ModelSerializer):
    authorized_by = serializers.StringRelatedField()

    class Meta:
        model = NodeAuthorization
        fields = ("id", "tenant", "node", "state", "authorized_by", "authorized_at")


class NodeAuthorizationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Node authorizations (seed step 2); authorize / revoke record who and when."""

    serializer_class = NodeAuthorizationSerializer
    queryset = NodeAuthorization.objects.select_related("authorized_by")

    def get_queryset(self):
        from tenants.access import tenants_for_user

        return (
            super()
            .get_queryset()
            .filter(
                tenant__in=tenants_for_user(
                    user=self.request.user, object_type="node_authorization"
                )
            )
        )

    def _change(self, request, grant: bool):
        tenant = _tenant_for(request, object_type="node_authorization", action="change")
        node = request.data.get("node")
        if node not in AuthorizableNode.values:
            return Response(
                {"node": f"Choose one of {', '.join(AuthorizableNode.values)}."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        if not grant and request.data.get("confirm") is not True:
            affected = selectors.flows_using_nodes(tenant=tenant, families={node})
            if affected:
                # Published flows keep running: say what will take its error path first.
                return Response(
                    {
                        "detail": f'Revoking "{node}" stops these nodes in published flows; each '
                        'takes its error path. Send "confirm": true to revoke.',
                        "flows": [
                            {"id": flow.pk, "name": flow.name, "nodes": nodes}
                            for flow, nodes in affected
                        ],
                    },
                    status=status.HTTP_409_CONFLICT,
                )
        change = (
            services.node_authorization_authorize if grant else services.node_authorization_revoke
        )
        return Response(
            NodeAuthorizationSerializer(change(tenant=tenant, node=node, user=request.user)).data
        )

    @action(detail=False, methods=["post"])
    def authorize(self, request):
        return self._change(request, True)

    @action(detail=False, methods=["post"])
    def revoke(self, request):
        return self._change(request, False)


class BusinessCalendarSerializer(TenantScopedSerializer):
    class Meta:
        model = BusinessCalendar
        fields = ("id", "tenant", "name", "timezone", "hours", "holidays")
        read_only_fields = ("tenant",)
        validators: list = []

    def validate(self, attrs):
        attrs = super().validate(attrs)
        merged = {"timezone": "UTC", "hours": {}, "holidays": []}
        if self.instance is not None:
            merged.update({k: getattr(self.instance, k) for k in merged})
        merged.update({k: v for k, v in attrs.items() if k in merged})
        try:
            services.business_calendar_check(
                timezone_name=merged["timezone"], hours=merged["hours"], holidays=merged["holidays"]
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        tenant = self._target_tenant()
        name = attrs.get("name")
        if (
            tenant is not None
            and name
            and BusinessCalendar.objects.filter(tenant=tenant, name=name)
            .exclude(pk=getattr(self.instance, "pk", None))
            .exists()
        ):
            raise serializers.ValidationError(
                {"name": f"A calendar named {name!r} already exists."}
            )
        return attrs


class BusinessCalendarViewSet(TenantScopedViewSet):
    object_type = "business_calendar"
    serializer_class = BusinessCalendarSerializer
    queryset = BusinessCalendar.objects.all()


def register(router: DefaultRouter) -> None:
    """Adds the flows endpoints to /api/v1/."""
    router.register("flows", FlowViewSet, basename="flow")
    router.register("flow-runs", FlowRunViewSet, basename="flow-run")
    router.register("flow-global-variables", GlobalVariableViewSet, basename="flow-global-variable")
    router.register(
        "flow-node-authorizations", NodeAuthorizationViewSet, basename="flow-node-authorization"
    )
    router.register(
        "flow-business-calendars", BusinessCalendarViewSet, basename="flow-business-calendar"
    )
