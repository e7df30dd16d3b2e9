"""The desktop's pages: only for agents, and only their own conversations and attachments."""

import pytest
from django.core.files.base import ContentFile

from channels_app.models import Attachment, Message
from tests.routing.factories import make_agent, make_conversation, make_team


@pytest.fixture
def owned(tenant, agent):
    conversation = make_conversation(
        tenant=tenant, kind="whatsapp", customer_name="Dana Kunde", text="Hallo"
    )
    conversation.owner = agent
    conversation.save(update_fields=["owner"])
    return conversation


def test_the_desktop_is_for_agents_only(client, agent, supervisor):
    client.force_login(supervisor)
    assert client.get("/desktop/").status_code == 403
    assert client.get("/desktop/state/").status_code == 403
    client.force_login(agent.user)
    assert client.get("/desktop/").status_code == 200


def test_anonymous_users_are_sent_to_sign_in(client, db):
    response = client.get("/desktop/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_the_state_lists_the_agents_own_conversations_with_unread_counts(client, agent, owned):
    client.force_login(agent.user)
    state = client.get("/desktop/state/").json()

    assert [c["id"] for c in state["conversations"]] == [owned.pk]
    assert state["conversations"][0]["unread"] == 1
    assert state["state"]["state"] == "signed_out"


def test_the_transcript_renders_each_message_by_its_channel_template(client, agent, owned):
    asset = owned.asset
    Message.objects.create(
        tenant=owned.tenant,
        conversation=owned,
        asset=asset,
        direction="in",
        author_kind="customer",
        content_type="location",
        status="received",
        content={"latitude": 52.52, "longitude": 13.405, "name": "Fernsehturm"},
    )
    Message.objects.create(
        tenant=owned.tenant,
        conversation=owned,
        asset=asset,
        direction="in",
        author_kind="customer",
        content_type="contacts",
        status="received",
        content={
            "contacts": [
                {
                    "name": "Kim Kontakt",
                    "phones": [{"phone": "+4930123"}],
                    "emails": [],
                    "organization": "",
                    "urls": [],
                }
            ]
        },
    )
    client.force_login(agent.user)

    html = client.get(f"/desktop/conversations/{owned.pk}/").content.decode()

    assert "Hallo" in html
    assert "openstreetmap.org/?mlat=52.52&amp;mlon=13.405" in html
    assert "Kim Kontakt" in html and "tel:+4930123" in html


def test_another_agents_conversation_is_404(client, tenant, owned):
    colleague = make_agent(tenant=tenant, team=make_team(tenant=tenant))
    client.force_login(colleague.user)
    assert client.get(f"/desktop/conversations/{owned.pk}/").status_code == 404


def test_an_agent_of_another_tenant_gets_404_for_conversations_and_attachments(
    client, other_tenant, owned
):
    stranger = make_agent(tenant=other_tenant, team=make_team(tenant=other_tenant))
    message = owned.messages.first()
    attachment = Attachment.objects.create(
        tenant=owned.tenant,
        message=message,
        filename="a.txt",
        file=ContentFile(b"secret", name="a.txt"),
        scan_status="clean",
    )
    client.force_login(stranger.user)

    assert client.get(f"/desktop/conversations/{owned.pk}/").status_code == 404
    assert client.get(f"/desktop/attachments/{attachment.pk}/").status_code == 404
    assert owned.pk not in [c["id"] for c in client.get("/desktop/state/").json()["conversations"]]


def test_the_owner_downloads_a_clean_attachment_but_never_an_infected_one(client, agent, owned):
    message = owned.messages.first()
    clean = Attachment.objects.create(
        tenant=owned.tenant,
        message=message,
        filename="invoice.txt",
        file=ContentFile(b"invoice", name="invoice.txt"),
        scan_status="clean",
        detected_content_type="text/plain",
    )
    infected = Attachment.objects.create(
        tenant=owned.tenant,
        message=message,
        filename="evil.exe",
        file=ContentFile(b"X5O!", name="evil.exe"),
        scan_status="infected",
    )
    client.force_login(agent.user)

    response = client.get(f"/desktop/attachments/{clean.pk}/")
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"invoice"
    assert client.get(f"/desktop/attachments/{infected.pk}/").status_code == 404
    html = client.get(f"/desktop/conversations/{owned.pk}/").content.decode()
    assert "unknown file" in html and f"/desktop/attachments/{infected.pk}/" not in html


XSS = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


def test_what_a_customer_writes_is_shown_as_text_never_as_markup(client, tenant, agent):
    conversation = make_conversation(tenant=tenant, kind="whatsapp", customer_name=XSS, text=XSS)
    conversation.owner = agent
    conversation.save(update_fields=["owner"])
    Message.objects.create(
        tenant=tenant,
        conversation=conversation,
        asset=conversation.asset,
        direction="in",
        author_kind="customer",
        content_type="location",
        status="received",
        content={"latitude": 1.0, "longitude": 2.0, "name": XSS},
    )
    client.force_login(agent.user)

    html = client.get(f"/desktop/conversations/{conversation.pk}/").content.decode()

    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html
