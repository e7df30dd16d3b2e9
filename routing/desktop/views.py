import json

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import render
from django.template.loader import select_template
from django.views.decorators.http import require_GET, require_POST

from channels_app.media import attachment_file_response, detect_content_type
from channels_app.models import AuthorKind, ChannelKind, Message
from channels_app.providers.base import SendError
from channels_app.scanning import scanner_configured
from channels_app.selectors import (
    attachments_downloadable,
    channel_template_for,
    channel_template_list,
    whatsapp_templates_approved,
)
from channels_app.services import SendRefused, message_send_file, whatsapp_window_open
from channels_app.services.email import email_reply_send
from channels_app.services.whatsapp_templates import (
    whatsapp_templates_refresh,
    whatsapp_templates_stale,
)
from channels_app.templatetags.email_body import email_remote_images
from config.outbound import OutboundError, OutboundRefused, fetch
from routing.desktop.selectors import (
    conversation_for_agent,
    conversation_list,
    conversation_messages,
    desktop_agent,
    desktop_snapshot,
)
from routing.models import ConversationNote
from routing.services.desktop import agent_preference_get, auto_accept_queues_for
from tenants.middleware import SESSION_KEY


def _agent_or_none(request):
    return desktop_agent(user=request.user, chosen_tenant_id=request.session.get(SESSION_KEY))


def _not_an_agent(request):
    return HttpResponseForbidden(
        render(request, "desktop/not_an_agent.html").content, content_type="text/html"
    )


@require_GET
@login_required
def desktop_page(request):
    agent = _agent_or_none(request)
    if agent is None:
        return _not_an_agent(request)
    preference = agent_preference_get(agent=agent)
    chosen = (
        set(preference.auto_accept_queues.values_list("pk", flat=True)) if preference.pk else set()
    )
    return render(
        request,
        "desktop/index.html",
        {
            "agent": agent,
            "channel_templates": channel_template_list(tenant=agent.tenant),
            "preference": preference,
            "auto_accept_queues": [
                {"id": q.pk, "name": q.name, "on": q.pk in chosen}
                for q in auto_accept_queues_for(agent=agent)
            ],
        },
    )


@require_GET
@login_required
def conversation_list_view(request):
    """The agent's conversations, filtered, searched and paginated (JSON)."""
    agent = _agent_or_none(request)
    if agent is None:
        return JsonResponse({"error": "not an agent"}, status=403)
    page = request.GET.get("page", "1")
    if not page.isdigit():
        return JsonResponse({"error": "page: a page number"}, status=400)
    try:
        data = conversation_list(
            agent=agent,
            filter=request.GET.get("filter", "mine"),
            q=request.GET.get("q", ""),
            page=int(page[:6]),
        )
    except ValidationError as exc:
        return JsonResponse(
            {"error": "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())},
            status=400,
        )
    return JsonResponse(data)


@require_GET
@login_required
def desktop_state(request):
    """The whole desktop state; the page re-reads it on every (re)connect."""
    agent = _agent_or_none(request)
    if agent is None:
        return JsonResponse({"error": "not an agent"}, status=403)
    return JsonResponse(desktop_snapshot(agent=agent))


def _variables(conversation, agent) -> list[dict]:
    """Labels and values as the agent reads them; an editable field keeps the raw value."""
    from routing.desktop.readable import readable_for_agent
    from routing.flows.selectors import conversation_variables_for_agent

    readable = readable_for_agent(agent=agent)
    variables = conversation_variables_for_agent(conversation=conversation)
    for variable in variables:
        value = variable["value"]
        if value is None:
            variable["display"] = ""
        elif variable["type"] == "json":
            variable["display"] = json.dumps(value, ensure_ascii=False)
        else:
            variable["display"] = str(value).lower() if isinstance(value, bool) else str(value)
        variable["readable"] = readable.value(variable["type"], value)
    return variables


@require_GET
@login_required
def conversation_panel(request, conversation_id: int):
    """The transcript and variables of one owned conversation, rendered by its channel's templates."""
    agent = _agent_or_none(request)
    if agent is None:
        return _not_an_agent(request)
    conversation = conversation_for_agent(agent=agent, conversation_id=conversation_id)
    messages = conversation_messages(conversation=conversation)
    notes = list(
        ConversationNote.objects.filter(conversation=conversation, tenant_id=agent.tenant_id)
    )
    for note in notes:
        note.is_note = True
    # The channel template says which rich elements this channel shows; others show as text.
    channel = channel_template_for(tenant=agent.tenant, kind=conversation.kind)
    for message in messages:
        content_type = message.content_type if channel.renders(message.content_type) else "text"
        message.template_name = select_template(
            [
                f"desktop/messages/{conversation.kind}/{content_type}.html",
                f"desktop/messages/{content_type}.html",
                "desktop/messages/text.html",
            ]
        ).template.name
    return render(
        request,
        "desktop/conversation.html",
        {
            "conversation": conversation,
            "channel_template": channel,
            "accept_types": ",".join(channel.allowed_content_types),
            "can_send_files": scanner_configured(),
            "window_closed": conversation.kind == ChannelKind.WHATSAPP
            and not whatsapp_window_open(conversation=conversation),
            "messages": messages,
            "timeline": sorted(
                [*messages, *notes],
                key=lambda item: (item.created_at, isinstance(item, ConversationNote)),
            ),
            "variables": _variables(conversation, agent),
            "wrap_up_codes": desktop_snapshot(agent=agent)["wrap_up_codes"],
            "no_previews": not channel.image_previews,
        },
    )


@require_GET
@login_required
def attachment_download(request, attachment_id: int):
    """An attachment of an owned conversation; only files scanned clean are ever served."""
    agent = _agent_or_none(request)
    if agent is None:
        return _not_an_agent(request)
    # Only a file scanned clean, in a conversation this agent owns, in the agent's tenant.
    attachment = (
        attachments_downloadable()
        .filter(pk=attachment_id, tenant_id=agent.tenant_id, message__conversation__owner=agent)
        .first()
    )
    if attachment is None:
        raise Http404("No such attachment.")
    return attachment_file_response(attachment)


# Room for the form's boundaries, headers and caption around the file itself.
UPLOAD_FORM_OVERHEAD = 16 * 1024


def _error(reason: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": reason}, status=status)


@require_POST
@login_required
def attachment_upload(request, conversation_id: int):
    """An agent sends a file in an owned conversation: refused with the reason (size or type)
    before it is stored, else recorded, scanned and sent like any reply."""
    agent = _agent_or_none(request)
    if agent is None:
        return _error("not an agent", 403)
    conversation = conversation_for_agent(agent=agent, conversation_id=conversation_id)
    template = channel_template_for(tenant=agent.tenant, kind=conversation.kind)
    try:
        announced = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        announced = 0
    if announced > template.max_bytes + UPLOAD_FORM_OVERHEAD:
        # A body far over the limit is refused before the form is even parsed.
        return _error(
            f"the upload is {announced:,} bytes; {conversation.get_kind_display()} "
            f"takes files of at most {template.max_bytes:,}",
            413,
        )
    upload = request.FILES.get("file")
    if upload is None:
        return _error("choose a file to send")
    if len(request.FILES.getlist("file")) > 1:
        return _error("send one file at a time")
    if upload.size > template.max_bytes:
        # Refused on the announced size, before the bytes are read or kept.
        return _error(
            f"the file is {upload.size:,} bytes; {conversation.get_kind_display()} "
            f"takes at most {template.max_bytes:,}",
            413,
        )
    caption = request.POST.get("caption", "")
    if len(caption) > 1024:
        return _error("a caption is at most 1024 characters")
    try:
        message = message_send_file(
            conversation=conversation,
            data=upload.read(),
            filename=upload.name or "",
            caption=caption,
            author_kind=AuthorKind.AGENT,
            author_agent=agent,
        )
    except SendRefused as exc:
        return _error(" ".join(exc.messages))
    return JsonResponse({"message_id": message.pk, "status": message.status}, status=201)


@require_GET
@login_required
def whatsapp_templates(request, conversation_id: int):
    """The approved templates of the conversation's WhatsApp number, fetched when the stored
    copy is older than its time to live (or with ?refresh=1)."""
    agent = _agent_or_none(request)
    if agent is None:
        return _error("not an agent", 403)
    conversation = conversation_for_agent(agent=agent, conversation_id=conversation_id)
    if conversation.kind != ChannelKind.WHATSAPP:
        return _error("message templates are a WhatsApp feature", 404)
    problem = ""
    if request.GET.get("refresh") == "1" or whatsapp_templates_stale(asset=conversation.asset):
        try:
            whatsapp_templates_refresh(asset=conversation.asset)
        except (SendError, SendRefused) as exc:
            problem = getattr(exc, "reason", None) or " ".join(exc.messages)
    templates = whatsapp_templates_approved(asset=conversation.asset)
    return JsonResponse(
        {
            "window_open": whatsapp_window_open(conversation=conversation),
            "problem": f"the templates could not be fetched: {problem}" if problem else "",
            "templates": [
                {
                    "name": t.name,
                    "language": t.language,
                    "category": t.category,
                    "body": t.body_text,
                    "parameters": t.parameter_count,
                }
                for t in templates
            ],
        }
    )


@require_POST
@login_required
def email_reply(request, conversation_id: int):
    """An agent's formatted mail in an owned email conversation: JSON {html, subject, cc}; the
    HTML is sanitized and the text part derived on the server."""
    agent = _agent_or_none(request)
    if agent is None:
        return _error("not an agent", 403)
    conversation = conversation_for_agent(agent=agent, conversation_id=conversation_id)
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return _error("the request body must be JSON")
    if not isinstance(body, dict):
        return _error("the request body must be a JSON object")
    try:
        message = email_reply_send(
            conversation=conversation,
            html=body.get("html", ""),
            subject=body.get("subject", ""),
            cc=body.get("cc", ""),
            author_agent=agent,
        )
    except SendRefused as exc:
        return _error(" ".join(exc.messages))
    return JsonResponse({"message_id": message.pk, "status": message.status}, status=201)


REMOTE_IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
REMOTE_IMAGE_MAX_BYTES = 5 * 1024 * 1024


@require_GET
@login_required
def email_remote_image(request, message_id: int):
    """One remote image of a mail the agent may read, fetched by us through the outbound guard
    and served from our origin, so the page's CSP (img-src 'self') still holds. Only an image
    that the message's sanitized HTML shows may be fetched."""
    agent = _agent_or_none(request)
    if agent is None:
        return _not_an_agent(request)
    message = Message.objects.filter(pk=message_id, tenant_id=agent.tenant_id).first()
    if message is None:
        raise Http404("No such message.")
    # Only an open conversation this agent owns: anything else does not exist for them.
    conversation = conversation_for_agent(agent=agent, conversation_id=message.conversation_id)
    if conversation.kind != ChannelKind.EMAIL:
        raise Http404("No such message.")
    src = request.GET.get("src", "")
    if not src:
        return _error("say which image: ?src=<its address>")
    if src not in email_remote_images(message):
        return _error("this image is not in the message")
    try:
        fetched = fetch(
            "GET", src, max_bytes=REMOTE_IMAGE_MAX_BYTES, follow_redirects=True, timeout=10
        )
    except OutboundRefused as exc:
        return _error(f"the image may not be fetched: {exc.reason}", 403)
    except OutboundError as exc:
        return _error(f"the image could not be fetched: {exc.reason}", 502)
    if fetched.status_code != 200:
        return _error(f"the image's server answered {fetched.status_code}", 502)
    content_type = detect_content_type(fetched.content)
    if content_type not in REMOTE_IMAGE_TYPES:
        return _error(f"not an image we show ({content_type or 'empty'})", 502)
    response = HttpResponse(fetched.content, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response
