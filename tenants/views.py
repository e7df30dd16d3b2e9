from django import forms
from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from tenants import services
from tenants.access import user_can
from tenants.models import Agent, Invitation


class AcceptInvitationForm(forms.Form):
    full_name = forms.CharField(max_length=200)
    password = forms.CharField(widget=forms.PasswordInput, min_length=8)
    password_again = forms.CharField(widget=forms.PasswordInput)

    def clean(self):
        data = super().clean()
        if data.get("password") != data.get("password_again"):
            raise forms.ValidationError("The two passwords differ.")
        return data


def _gone(request, invitation: Invitation, reason: str):
    return render(
        request,
        "tenants/invitation_gone.html",
        {"invitation": invitation, "reason": reason},
        status=410,
    )


@require_http_methods(["GET", "POST"])
def invitation_accept_view(request, token: str):
    invitation = Invitation.objects.select_related("tenant").filter(token=token).first()
    if invitation is None:
        return render(request, "tenants/invitation_gone.html", {"reason": "unknown"}, status=404)
    if invitation.accepted_at is not None:
        return _gone(request, invitation, "used")
    if invitation.is_expired:
        return _gone(request, invitation, "expired")
    form = AcceptInvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.invitation_accept(
                token=token,
                full_name=form.cleaned_data["full_name"],
                password=form.cleaned_data["password"],
            )
        except services.InvitationExpired:
            return _gone(request, invitation, "expired")
        except services.InvitationUsed:
            return _gone(request, invitation, "used")
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("/")
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "tenants/invitation_accept.html",
        {"invitation": invitation, "form": form},
        status=status,
    )


def home(request):
    """Sends each person to their place: admins to the console, supervisors to the care console,
    agents to the desktop."""
    if not request.user.is_authenticated:
        return redirect_to_login("/")
    tenant = request.tenant
    if request.user.is_superuser or (
        tenant is not None and user_can(user=request.user, tenant=tenant, object_type="tenant")
    ):
        return redirect("/admin/")
    if tenant is not None and user_can(
        user=request.user, tenant=tenant, object_type="conversation"
    ):
        return redirect("/care/")
    if Agent.objects.filter(user=request.user).exists():
        return redirect("/desktop/")
    return render(request, "tenants/no_access.html", status=403)


def signin_username(request, credentials=None) -> str:
    """The account a sign-in attempt is for, as the lockout counts it."""
    source = credentials if credentials else getattr(request, "POST", {})
    return str(source.get("username") or "").strip().lower()


def signin_locked_out(request, original_response=None, credentials=None) -> HttpResponse:
    """What a sign-in refused by the lockout answers: 429 with a Retry-After header, as JSON on
    the API and as the sign-in form with an error elsewhere."""
    minutes = max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))
    message = (
        "Too many failed sign-in attempts for this account or from this address. "
        f"Try again in {minutes} minutes."
    )
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": message}, status=429)
    else:
        response = render(
            request,
            "registration/login.html",
            {
                "form": AuthenticationForm(request),
                "next": request.POST.get("next", ""),
                "lockout_message": message,
            },
            status=429,
        )
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response
