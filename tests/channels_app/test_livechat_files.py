# ruff: noqa: F811 - the live-chat fixtures are imported from test_livechat
"""Files in live chat: a visitor attaches one (capped, typed by its bytes, scanned by the real
clamd), and an agent's file reaches the visitor as a download their token authorizes."""

import pytest
from django.core import mail
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from channels_app.models import Attachment, ChannelTemplate, Conversation, Message
from channels_app.services.outbound import message_send_file
from tests.channels_app.test_attachment_scanning import EXE, PNG
from tests.channels_app.test_livechat import (  # noqa: F401 - the live-chat tests' fixtures
    ORIGIN,
    _fresh_limits,
    _run_after_commit,
    other_widget,
    post,
    session,
    url,
    widget,
)
from tests.clamd import EICAR

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def capture():
    from tests.channels_app import test_livechat

    return test_livechat._capture(execute=True)


def attach(client, widget, token, content: bytes, name="photo.png", client_id="f1", origin=ORIGIN):
    with capture():
        return client.post(
            url(widget, "upload"),
            {"token": token, "client_id": client_id, "file": SimpleUploadedFile(name, content)},
            headers={"Origin": origin},
        )


def spooled() -> list[str]:
    try:
        return default_storage.listdir("livechat-uploads")[1]
    except FileNotFoundError:
        return []


def test_a_visitors_file_is_scanned_and_shown_to_the_visitor_and_the_agent(client, widget):
    for name in spooled():
        default_storage.delete(f"livechat-uploads/{name}")
    token = session(client, widget)["token"]

    response = attach(client, widget, token, PNG)
    again = attach(client, widget, token, PNG)

    assert response.status_code == 200, response.content
    attachment = Attachment.objects.get()
    assert attachment.message.direction == "in" and attachment.message.content_type == "image"
    assert attachment.filename == "photo.png" and attachment.detected_content_type == "image/png"
    assert attachment.scan_status == Attachment.ScanStatus.CLEAN  # by the real clamd
    assert again.json()["files"] == [
        {"id": attachment.pk, "name": "photo.png", "size": len(PNG), "state": "ready"}
    ]
    assert Message.objects.count() == 1  # the client id makes the resend harmless
    assert spooled() == []  # the spooled upload went once it was an attachment
    history = session(client, widget, token=token)["messages"]
    assert history[0]["files"][0]["state"] == "ready"
    post(client, widget, "transcript", {"token": token, "email": "dana@example.com"})
    assert "[file: photo.png]" in mail.outbox[-1].body


def test_eicar_is_refused_by_clamd_and_nothing_is_kept(client, widget, tenant):
    # Text files allowed, so that only the scan stands between EICAR and the conversation.
    ChannelTemplate.default_for(tenant=tenant, kind="chat").save()
    ChannelTemplate.objects.filter(tenant=tenant, kind="chat").update(
        allowed_content_types=["text/plain", "image/png"]
    )
    before = spooled()
    token = session(client, widget)["token"]

    response = attach(client, widget, token, EICAR, name="notes.txt")

    assert response.status_code == 422 and "malware" in response.json()["error"]
    assert not Message.objects.exists() and not Attachment.objects.exists()
    assert spooled() == before


def test_a_file_of_a_refused_type_or_size_gets_the_reason(client, widget, settings):
    settings.LIVECHAT_UPLOAD_MAX_BYTES = 1024
    token = session(client, widget)["token"]

    exe = attach(client, widget, token, EXE, name="invoice.pdf", client_id="a")
    big = attach(client, widget, token, PNG + b"\x00" * 2000, client_id="b")
    empty = attach(client, widget, token, b"", client_id="c")
    no_file = post(client, widget, "upload", {"token": token, "client_id": "d"})

    assert exe.status_code == 415 and "does not take files of type" in exe.json()["error"]
    assert big.status_code == 413 and "at most 1 KB" in big.json()["error"]
    assert empty.status_code == 400
    assert no_file.status_code == 405
    assert session(client, widget, token=token)["widget"]["upload_max_bytes"] == 1024
    assert not Message.objects.exists()


def test_uploads_are_rate_limited_with_a_clear_error(client, widget, settings):
    settings.LIVECHAT_RATE_LIMITS = {"upload_visitor": (1, 60)}
    token = session(client, widget)["token"]

    first = attach(client, widget, token, PNG, client_id="u1")
    second = attach(client, widget, token, PNG, client_id="u2")

    assert first.status_code == 200
    assert second.status_code == 429 and "too many files" in second.json()["error"]
    assert Message.objects.count() == 1


def test_an_agents_file_reaches_the_visitor_as_a_download_only_they_may_open(
    client, widget, other_widget, agent
):
    token = session(client, widget)["token"]
    post(client, widget, "messages", {"token": token, "client_id": "m1", "text": "The invoice?"})
    stranger = session(client, widget)["token"]
    foreign = post(client, other_widget, "session", {}, origin="http://testserver").json()
    conversation = Conversation.objects.get()
    conversation.owner = agent
    conversation.save(update_fields=["owner"])
    with capture():
        sent = message_send_file(
            conversation=conversation,
            data=PDF,
            filename="invoice.pdf",
            author_kind="agent",
            author_agent=agent,
        )

    sent.refresh_from_db()
    frame = [m for m in session(client, widget, token=token)["messages"] if m["id"] == sent.pk][0]
    file_id = frame["files"][0]["id"]
    download = post(client, widget, f"files/{file_id}", {"token": token})
    not_theirs = post(client, widget, f"files/{file_id}", {"token": stranger})
    outsider = post(client, widget, f"files/{file_id}", {"token": foreign["token"]})
    forged = post(client, widget, f"files/{file_id}", {"token": token + "x"})
    by_link = client.get(url(widget, f"files/{file_id}"), headers={"Origin": ORIGIN})
    wrong_site = post(
        client, widget, f"files/{file_id}", {"token": token}, origin="https://x.example"
    )

    assert sent.status == "sent"
    assert frame["files"] == [
        {"id": file_id, "name": "invoice.pdf", "size": len(PDF), "state": "ready"}
    ]
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF
    assert download["Content-Type"] == "application/pdf"
    assert download["Access-Control-Allow-Origin"] == ORIGIN
    assert not_theirs.status_code == 404 and not_theirs.json()["error"] == "no such file"
    assert outsider.status_code == 403
    assert forged.status_code == 403
    assert by_link.status_code == 405
    assert wrong_site.status_code == 403


def test_an_outsiders_visitor_cannot_upload_to_this_widget(client, widget, other_widget):
    foreign = post(client, other_widget, "session", {}, origin="http://testserver").json()

    response = attach(client, widget, foreign["token"], PNG)

    assert response.status_code == 403
    assert not Message.objects.exists()


@pytest.mark.parametrize("file_id", ["0", "999999"])
def test_an_unknown_file_is_a_404(client, widget, file_id):
    token = session(client, widget)["token"]

    response = post(client, widget, f"files/{file_id}", {"token": token})

    assert response.status_code == 404


@pytest.mark.django_db(transaction=True)
async def test_the_visitor_sees_their_file_become_downloadable_over_the_socket(widget):
    from channels.db import database_sync_to_async

    from channels_app.livechat import services as livechat
    from channels_app.livechat.limits import limits_reset
    from tests.channels_app.test_livechat import visitor_socket

    await database_sync_to_async(limits_reset)()
    token = await database_sync_to_async(livechat.visitor_token_issue)(widget=widget, visitor="v-f")
    socket = visitor_socket(widget, token)
    await socket.connect()
    await socket.receive_json_from(timeout=5)

    await database_sync_to_async(livechat.visitor_file_post)(
        widget=widget, visitor="v-f", client_id="s1", data=PNG, filename="a.png", ip="192.0.2.1"
    )
    frame = await socket.receive_json_from(timeout=15)
    while not (frame.get("event") == "message" and frame["payload"]["files"]):
        frame = await socket.receive_json_from(timeout=15)
    await socket.disconnect()

    assert frame["payload"]["client_id"] == "s1"
    assert frame["payload"]["files"][0]["state"] == "ready"
