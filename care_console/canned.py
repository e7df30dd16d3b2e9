"""Canned responses managed by supervisors in the care console.

A supervisor with the `canned_response` grants manages the tenant-wide responses and those of
the teams in their scope; tenant admins manage every team's. Others' teams do not exist here."""

from django import forms
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from care_console.views import care_view
from routing.models import CannedResponse
from tenants.access import user_can


def _require(scope, request, action: str) -> None:
    if not user_can(
        user=request.user, tenant=scope.tenant, object_type="canned_response", action=action
    ):
        raise PermissionDenied(f"You may not {action} canned responses.")


def _visible(scope):
    responses = CannedResponse.objects.filter(tenant=scope.tenant).select_related("team")
    if scope.everything:
        return responses
    return responses.filter(Q(team__isnull=True) | Q(team_id__in=list(scope.team_ids)))


class CannedResponseForm(forms.ModelForm):
    class Meta:
        model = CannedResponse
        fields = ("shortcut", "title", "team", "text")
        widgets = {"text": forms.Textarea(attrs={"rows": 5})}

    def __init__(self, *args, scope, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.tenant = scope.tenant
        self.fields["team"].queryset = scope.teams()
        self.fields["team"].empty_label = "Every team (tenant-wide)"


@require_http_methods(["GET", "POST"])
@care_view
def canned_list(request, scope):
    _require(scope, request, "view")
    form = None
    if user_can(
        user=request.user, tenant=scope.tenant, object_type="canned_response", action="add"
    ):
        form = CannedResponseForm(request.POST or None, scope=scope)
        if request.method == "POST" and form.is_valid():
            form.save()
            return redirect("care-canned")
    elif request.method == "POST":
        raise PermissionDenied("You may not add canned responses.")
    return render(
        request,
        "care/canned.html",
        {
            "scope": scope,
            "section": "canned",
            "responses": _visible(scope).order_by("team__name", "shortcut"),
            "form": form,
        },
        status=400 if form is not None and form.errors else 200,
    )


def _one(scope, response_id: int) -> CannedResponse:
    response = _visible(scope).filter(pk=response_id).first()
    if response is None:
        raise Http404("No such canned response.")
    return response


@require_http_methods(["GET", "POST"])
@care_view
def canned_edit(request, scope, response_id: int):
    _require(scope, request, "change")
    response = _one(scope, response_id)
    form = CannedResponseForm(request.POST or None, instance=response, scope=scope)
    if request.method == "POST" and form.is_valid():
        form.save()
        return redirect("care-canned")
    return render(
        request,
        "care/canned_edit.html",
        {"scope": scope, "section": "canned", "form": form, "response": response},
        status=400 if form.errors else 200,
    )


@require_POST
@care_view
def canned_delete(request, scope, response_id: int):
    _require(scope, request, "delete")
    _one(scope, response_id).delete()
    return redirect("care-canned")
