"""The desktop composer's server side: file uploads (refused with a reason before anything is kept
or sent), the WhatsApp template list, and sending a template over the socket."""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from channels_app.models import Attachment, ChannelTemplate, Message, WhatsAppTemplate
from channels_app.sandbox.fake_provider import _png
from tests.factories import AgentFactory, ChannelAssetFactory, ConversationFactory
from tests.routing.desktop.test_consumer import call, connected

PNG = _png()


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def owned(agent, whatsapp_asset):
    return ConversationFactory(
        asset=whatsapp_asset,
        owner=agent,
        last_inbound_at=timezone.now() - timedelta(minutes=10),
        identity__address="4915112345678",
    )


@pytest.fixture
def stale(agent, whatsapp_asset):
    """A WhatsApp conversation whose customer last wrote two days ago."""
    return ConversationFactory(
        asset=whatsapp_asset,
        owner=agent,
        last_inbound_at=timezone.now() - timedelta(days=2),
        identity__address="4915100000002",
    )


def upload(client, conversation, data: bytes = PNG, name: str = "photo.png", **extra):
    return client.post(
        f"/desktop/conversations/{conversation.pk}/attachments/",
        {"file": SimpleUploadedFile(name, data), **extra},
    )


def test_an_agent_sends_an_image_from_the_desktop(
    client, agent, owned, fake_provider, django_capture_on_commit_callbacks
):
    client.force_login(agent.user)

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, owned, caption="Hier ist das Foto")

    assert response.status_code == 201
    message = Message.objects.get(pk=response.json()["message_id"])
    assert (message.status, message.author_agent_id) == ("sent", agent.pk)
    assert message.attachments.get().filename == "photo.png"
    assert fake_provider.sent_to("whatsapp")[0]["payload"]["image"]["caption"] == (
        "Hier ist das Foto"
    )
    panel = client.get(f"/desktop/conversations/{owned.pk}/").content.decode()
    assert "status-sent" in panel


def test_a_file_too_large_for_the_channel_is_refused_before_it_is_kept(client, agent, owned):
    template = ChannelTemplate.default_for(tenant=owned.tenant, kind="whatsapp")
    template.max_bytes = 10
    template.save()
    client.force_login(agent.user)

    response = upload(client, owned)

    assert response.status_code == 413
    assert "takes at most 10" in response.json()["error"]
    assert not Attachment.objects.exists()


def test_a_file_of_a_refused_type_gets_the_reason(client, agent, owned, fake_provider):
    client.force_login(agent.user)

    response = upload(client, owned, data=b"MZ\x90\x00" + b"\x00" * 200, name="cute-cat.png")

    assert response.status_code == 400
    assert "does not take files of type" in response.json()["error"]
    assert not Attachment.objects.exists()
    assert fake_provider.sent == []


def test_an_upload_without_a_file_is_a_400(client, agent, owned):
    client.force_login(agent.user)

    response = client.post(f"/desktop/conversations/{owned.pk}/attachments/", {})

    assert response.status_code == 400
    assert response.json() == {"error": "choose a file to send"}


def test_an_upload_needs_the_csrf_token(agent, owned):
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent.user)

    assert upload(client, owned).status_code == 403
    assert not Attachment.objects.exists()


def test_another_agent_and_an_outsider_cannot_upload_into_the_conversation(
    client, tenant, team, owned, other_tenant
):
    colleague = AgentFactory(tenant=tenant, team=team)
    stranger = AgentFactory(tenant=other_tenant)

    for intruder in (colleague, stranger):
        client.force_login(intruder.user)
        assert upload(client, owned).status_code == 404
        assert client.get(f"/desktop/conversations/{owned.pk}/templates/").status_code == 404
    assert not Attachment.objects.exists()


def test_a_non_agent_cannot_upload(client, supervisor, owned):
    client.force_login(supervisor)

    assert upload(client, owned).status_code == 403


def test_the_panel_tells_the_browser_what_the_channel_takes(client, agent, owned):
    client.force_login(agent.user)

    panel = client.get(f"/desktop/conversations/{owned.pk}/").content.decode()

    assert f'data-max-bytes="{100 * 1024 * 1024}"' in panel
    assert "image/png" in panel and 'data-upload-url="/desktop/conversations/' in panel
    assert "window-note" not in panel


def test_a_closed_window_offers_the_template_picker_instead_of_free_text(client, agent, stale):
    client.force_login(agent.user)

    panel = client.get(f"/desktop/conversations/{stale.pk}/").content.decode()

    assert "window-note" in panel
    assert 'id="template-picker"' in panel and 'id="template-picker" class' in panel
    assert "Free text is closed" in panel


def test_the_template_list_is_fetched_once_then_served_from_the_stored_copy(
    client, agent, stale, fake_provider, django_assert_max_num_queries
):
    client.force_login(agent.user)

    first = client.get(f"/desktop/conversations/{stale.pk}/templates/").json()
    fake_provider.templates = []
    with django_assert_max_num_queries(12):
        second = client.get(f"/desktop/conversations/{stale.pk}/templates/").json()
    refreshed = client.get(f"/desktop/conversations/{stale.pk}/templates/?refresh=1").json()

    assert first["window_open"] is False
    names = [(t["name"], t["language"]) for t in first["templates"]]
    assert ("order_update", "en_US") in names and ("spring_sale", "en_US") not in names
    order = next(
        t for t in first["templates"] if t["language"] == "en_US" and t["name"] == "order_update"
    )
    assert order["parameters"] == 3 and order["body"].startswith("Hi {{1}}")
    assert second == first
    assert refreshed["templates"] == []


def test_a_provider_failure_still_serves_the_stored_templates_and_says_why(
    client, agent, stale, fake_provider
):
    client.force_login(agent.user)
    client.get(f"/desktop/conversations/{stale.pk}/templates/")
    fake_provider.fail_next(status=503, kind="whatsapp")

    answer = client.get(f"/desktop/conversations/{stale.pk}/templates/?refresh=1").json()

    assert answer["templates"]
    assert answer["problem"].startswith("the templates could not be fetched: HTTP 503")


def test_templates_are_a_whatsapp_feature(client, agent, tenant, fake_provider):
    messenger = ChannelAssetFactory(tenant=tenant, kind="messenger", fb_page_id="1")
    conversation = ConversationFactory(asset=messenger, owner=agent)
    client.force_login(agent.user)

    response = client.get(f"/desktop/conversations/{conversation.pk}/templates/")

    assert response.status_code == 404


@pytest.mark.django_db(transaction=True)
async def test_an_agent_sends_a_template_over_the_socket_after_the_window_closed(
    agent, stale, fake_provider
):
    from channels_app.services.whatsapp_templates import whatsapp_templates_refresh

    await database_sync_to_async(whatsapp_templates_refresh)(asset=stale.asset)
    communicator, _ = await connected(agent.user)

    text = await call(communicator, "send_message", conversation_id=stale.pk, text="Hallo?")
    wrong = await call(
        communicator,
        "send_template",
        conversation_id=stale.pk,
        name="order_update",
        language="en_US",
        parameters=["Dana"],
    )
    sent = await call(
        communicator,
        "send_template",
        conversation_id=stale.pk,
        name="order_update",
        language="en_US",
        parameters=["Dana", "A-1042", "Friday"],
    )
    await communicator.disconnect()

    assert not text["ok"] and "24 hours" in text["error"]
    assert not wrong["ok"] and "needs 3 parameter(s), got 1" in wrong["error"]
    assert sent["ok"], sent["error"]
    message = await database_sync_to_async(Message.objects.get)(pk=sent["data"]["message_id"])
    assert message.text == "Hi Dana, your order A-1042 has shipped and arrives on Friday."
    assert message.author_agent_id == agent.pk
    [record] = await sync_to_async(fake_provider.sent_to)("whatsapp")
    assert record["payload"]["template"]["name"] == "order_update"


@pytest.mark.django_db(transaction=True)
async def test_an_outsider_cannot_send_a_template_into_the_conversation(
    stale, other_tenant, fake_provider
):
    stranger = await database_sync_to_async(AgentFactory)(tenant=other_tenant)
    await database_sync_to_async(WhatsAppTemplate.objects.create)(
        tenant=stale.tenant,
        asset=stale.asset,
        name="hello_world",
        language="en_US",
        status="APPROVED",
    )
    communicator, _ = await connected(stranger.user)

    reply = await call(
        communicator,
        "send_template",
        conversation_id=stale.pk,
        name="hello_world",
        language="en_US",
        parameters=[],
    )
    await communicator.disconnect()

    assert reply == {**reply, "ok": False, "error": "not found"}
    assert await sync_to_async(fake_provider.sent_to)("whatsapp") == []


def test_an_infected_file_shows_as_unknown_with_why_it_was_not_sent(
    client, agent, owned, fake_provider, django_capture_on_commit_callbacks
):
    from tests.clamd import EICAR

    client.force_login(agent.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, owned, data=EICAR, name="invoice.txt")

    assert response.status_code == 201
    assert Message.objects.get(pk=response.json()["message_id"]).status == "failed"
    panel = client.get(f"/desktop/conversations/{owned.pk}/").content.decode()
    assert "unknown file" in panel and "invoice.txt" not in panel
    assert "Not sent: the file is infected (Eicar-Test-Signature" in panel
    assert fake_provider.sent == [] and fake_provider.uploads == []


def test_without_a_scanner_the_panel_turns_attach_off_and_the_upload_says_why(
    client, agent, owned, settings
):
    settings.CLAMD_SOCKET = ""
    client.force_login(agent.user)

    panel = client.get(f"/desktop/conversations/{owned.pk}/").content.decode()
    response = upload(client, owned)

    assert "no-files" in panel and "Sending files needs the malware scanner" in panel
    assert response.status_code == 400
    assert response.json() == {"error": "files cannot be sent: no malware scanner is configured"}
    assert not Attachment.objects.exists()


def test_a_body_far_over_the_limit_is_refused_before_the_form_is_parsed(client, agent, owned):
    template = ChannelTemplate.default_for(tenant=owned.tenant, kind="whatsapp")
    template.max_bytes = 10
    template.save()
    client.force_login(agent.user)

    response = upload(client, owned, data=PNG + b"\0" * 40_000)

    assert response.status_code == 413
    assert response.json()["error"].startswith("the upload is ")
    assert not Attachment.objects.exists()
