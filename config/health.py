"""/healthz: one line per piece the service depends on; 503 if any of them is down.

The malware scanner is reported too; when it is down the service is "degraded" (200): messages
still flow, their files wait for the scanner and are retried, none is served unscanned."""

import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return connection.vendor


def _check_channel_layer() -> str:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    probe = {"type": "health.probe", "id": uuid.uuid4().hex}
    async_to_sync(layer.send)(channel, probe)
    received = async_to_sync(layer.receive)(channel)
    if received.get("id") != probe["id"]:
        raise RuntimeError("channel layer returned a different message")
    return type(layer).__name__


def _check_broker() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "eager (in-process)"
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return conn.transport_cls if isinstance(conn.transport_cls, str) else "connected"


def _routing_warnings() -> str:
    """Configuration a person must fix; reported, but the service is still up."""
    from routing.selectors import assets_without_flow_count

    count = assets_without_flow_count()
    if not count:
        return ""
    return (
        f"{count} channel asset(s) have no entry point with a published flow: their messages wait "
        "in the tenant's default queue, or are not queued at all without one (see each asset in "
        "the admin console)"
    )


def _scanner() -> dict[str, str]:
    """clamd: without it files wait (withheld, retried), so the service is degraded, not down."""
    from channels_app.models import Attachment
    from channels_app.scanning import scanner_configured, scanner_ping

    if not scanner_configured():
        return {
            "status": "off",
            "detail": "no scanner configured (CLAMD_SOCKET): attachments are withheld as not "
            "scanned",
        }
    waiting = Attachment.objects.filter(scan_status=Attachment.ScanStatus.PENDING).count()
    try:
        version = scanner_ping()
    except Exception as exc:
        return {
            "status": "down",
            "detail": f"{type(exc).__name__}: {exc}; {waiting} attachment(s) wait for a scan",
        }
    return {"status": "ok", "detail": f"{version}; {waiting} attachment(s) wait for a scan"}


@require_GET
def healthz(request):
    report: dict[str, dict[str, str]] = {}
    healthy = True
    for name, check in (
        ("database", _check_database),
        ("channel_layer", _check_channel_layer),
        ("broker", _check_broker),
    ):
        try:
            report[name] = {"status": "ok", "detail": str(check())}
        except Exception as exc:  # report, don't raise: the page exists to say what is down
            healthy = False
            report[name] = {"status": "down", "detail": f"{type(exc).__name__}: {exc}"}
    try:
        warning = _routing_warnings() if healthy else ""
    except Exception as exc:
        warning = f"could not check routing: {type(exc).__name__}"
    report["routing"] = (
        {"status": "warning", "detail": warning}
        if warning
        else {"status": "ok", "detail": "every channel asset runs a published flow"}
    )
    try:
        report["scanner"] = _scanner() if healthy else {"status": "unknown", "detail": ""}
    except Exception as exc:
        report["scanner"] = {"status": "down", "detail": f"{type(exc).__name__}: {exc}"}
    overall = "ok" if healthy else "down"
    if healthy and report["scanner"]["status"] == "down":
        overall = "degraded"
    return JsonResponse({"status": overall, "checks": report}, status=200 if healthy else 503)
