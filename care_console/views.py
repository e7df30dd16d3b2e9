"""The care console's pages: parse, ask access/selectors/services, render."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import select_template
from django.views.decorators.http import require_GET, require_POST

from care_console import exports
from care_console.access import (
    agent_for_scope,
    care_scope_for_user,
    conversation_for_scope,
    queue_for_scope,
    require_change,
)
from care_console.forms import ReportForm, TranscriptSearchForm
from care_console.reports import REPORTS, report, reportable_variables
from care_console.selectors import (
    attachment_for_scope,
    conversation_search,
    conversation_search_page,
    live_snapshot,
    transcript,
)
from channels_app.media import attachment_file_response
from routing import services as routing_services

EXPORT_LIMITS = {"csv": 2000, "json": 2000, "pdf": 200}
CONTENT_TYPES = {"csv": "text/csv", "json": "application/json", "pdf": "application/pdf"}


def care_view(view):
    """Signs in, resolves the user's care scope (403 for non-supervisors) and passes it on."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        scope = care_scope_for_user(user=request.user, tenant=request.tenant)
        return view(request, scope, *args, **kwargs)

    return wrapper


def _bad_request(reason) -> JsonResponse:
    return JsonResponse({"error": reason}, status=400)


def _form_errors(form) -> str:
    return "; ".join(
        f"{field}: {' '.join(errors)}" if field != "__all__" else " ".join(errors)
        for field, errors in form.errors.items()
    )


def _validation_text(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(" ".join(m) for m in exc.message_dict.values())
    return " ".join(exc.messages)


@require_GET
@care_view
def live_page(request, scope):
    return render(request, "care/live.html", {"scope": scope, "section": "live"})


@require_GET
@care_view
def live_state(request, scope):
    """The whole Live view; the page re-reads it on (re)connect and after each push."""
    return JsonResponse(live_snapshot(scope=scope))


@require_GET
@care_view
def transcripts_page(request, scope):
    form = TranscriptSearchForm(request.GET or None, scope=scope)
    page = None
    status = 200
    if form.is_bound:
        if form.is_valid():
            page = conversation_search_page(
                scope=scope, filters=form.cleaned_data, page=request.GET.get("page")
            )
        else:
            status = 400
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "care/transcripts.html",
        {
            "scope": scope,
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "section": "transcripts",
        },
        status=status,
    )


def _export_response(conversations, fmt: str, filename: str) -> HttpResponse:
    builder = {"csv": exports.to_csv, "json": exports.to_json, "pdf": exports.to_pdf}[fmt]
    response = HttpResponse(builder(conversations), content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response


@require_GET
@care_view
def transcripts_export(request, scope, fmt: str):
    form = TranscriptSearchForm(request.GET, scope=scope)
    if not form.is_valid():
        return _bad_request(_form_errors(form))
    results = conversation_search(scope=scope, filters=form.cleaned_data)
    limit = EXPORT_LIMITS[fmt]
    if results[: limit + 1].count() > limit:
        return _bad_request(
            f"The search finds more than {limit} conversations; narrow it down to export as {fmt}."
        )
    return _export_response(list(results), fmt, "transcripts")


@require_GET
@care_view
def conversation_page(request, scope, conversation_id: int):
    conversation = conversation_for_scope(scope=scope, conversation_id=conversation_id)
    context = transcript(conversation=conversation)
    _prepare_messages(context["messages"], conversation)
    context.update(
        {
            "scope": scope,
            "section": "transcripts",
            "agents": scope.agents().order_by("display_name"),
            "queues": scope.queues().filter(channel_type=conversation.media_type),
        }
    )
    return render(request, "care/conversation.html", context)


def _prepare_messages(messages, conversation) -> None:
    for message in messages:
        message.template_name = select_template(
            [
                f"desktop/messages/{conversation.kind}/{message.content_type}.html",
                f"desktop/messages/{message.content_type}.html",
                "desktop/messages/text.html",
            ]
        ).template.name


@require_GET
@care_view
def conversation_messages(request, scope, conversation_id: int):
    """The message list alone, re-read when a push says a message arrived."""
    conversation = conversation_for_scope(scope=scope, conversation_id=conversation_id)
    messages = transcript(conversation=conversation)["messages"]
    _prepare_messages(messages, conversation)
    return render(
        request,
        "care/_messages.html",
        {"messages": messages, "attachment_url": "care-attachment", "show_scan": True},
    )


@require_GET
@care_view
def conversation_export(request, scope, conversation_id: int, fmt: str):
    conversation = conversation_for_scope(scope=scope, conversation_id=conversation_id)
    return _export_response([conversation], fmt, f"conversation-{conversation.pk}")


def _redirect_back(conversation_id: int):
    return redirect("care-conversation", conversation_id=conversation_id)


@require_POST
@care_view
def conversation_takeover(request, scope, conversation_id: int):
    conversation = conversation_for_scope(scope=scope, conversation_id=conversation_id)
    require_change(scope)
    try:
        routing_services.conversation_take_over(conversation=conversation, user=request.user)
    except ValidationError as exc:
        return _bad_request(_validation_text(exc))
    return _redirect_back(conversation.pk)


@require_POST
@care_view
def conversation_transfer(request, scope, conversation_id: int):
    conversation = conversation_for_scope(scope=scope, conversation_id=conversation_id)
    require_change(scope)
    agent_id, queue_id = request.POST.get("agent_id"), request.POST.get("queue_id")
    if bool(agent_id) == bool(queue_id):
        return _bad_request("Choose either an agent or a queue to move the conversation to.")
    try:
        if agent_id:
            agent = agent_for_scope(scope=scope, agent_id=agent_id)
            routing_services.conversation_transfer_to_agent(
                conversation=conversation, agent=agent, by=request.user
            )
        else:
            queue = queue_for_scope(scope=scope, queue_id=queue_id)
            routing_services.conversation_transfer_to_queue(
                conversation=conversation, queue=queue, by=request.user
            )
    except ValidationError as exc:
        return _bad_request(_validation_text(exc))
    return _redirect_back(conversation.pk)


@require_GET
@care_view
def attachment_download(request, scope, attachment_id: int):
    attachment = attachment_for_scope(scope=scope, attachment_id=attachment_id)
    if attachment is None:
        raise Http404("No such attachment.")
    return attachment_file_response(attachment)


def _report_form(request, scope):
    return ReportForm(request.GET, reportable=reportable_variables(scope=scope))


@require_GET
@care_view
def reports_page(request, scope):
    form = _report_form(request, scope)
    form.is_valid()
    return render(
        request,
        "care/reports.html",
        {"scope": scope, "form": form, "reports": REPORTS, "section": "reports"},
    )


@require_GET
@care_view
def report_data(request, scope, name: str):
    if name not in REPORTS:
        raise Http404("No such report.")
    form = _report_form(request, scope)
    if not form.is_valid():
        return _bad_request(_form_errors(form))
    return JsonResponse(report(scope=scope, name=name, params=form.cleaned_data))


@require_GET
@care_view
def report_csv(request, scope, name: str):
    if name not in REPORTS:
        raise Http404("No such report.")
    form = _report_form(request, scope)
    if not form.is_valid():
        return _bad_request(_form_errors(form))
    data = report(scope=scope, name=name, params=form.cleaned_data)
    response = HttpResponse(
        exports.table_csv(data["columns"], data["rows"]), content_type="text/csv"
    )
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response
