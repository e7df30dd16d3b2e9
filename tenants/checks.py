"""System checks for a deployment's configuration."""

from django.conf import settings
from django.core.checks import Error, register

# Backends that do not deliver mail: fine for the embedded demo, never for a deployment, where
# invitations would silently go nowhere (or, worse, into a log).
UNDELIVERED_EMAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
}


@register()
def email_backend_check(app_configs, **kwargs) -> list[Error]:
    if not settings.DEPLOYED or settings.EMAIL_BACKEND not in UNDELIVERED_EMAIL_BACKENDS:
        return []
    return [
        Error(
            f"EMAIL_BACKEND is {settings.EMAIL_BACKEND}, which delivers no mail: invitations "
            "would never reach anyone.",
            hint=(
                "Set EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend with EMAIL_HOST, "
                "EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD and EMAIL_USE_TLS."
            ),
            id="tenants.E001",
        )
    ]
