"""A message whose asset has no flow to run still reaches the tenant's default queue, and the admin
is told on the asset page and in /healthz."""

import pytest

from channels_app.providers.base import InboundMessage
from channels_app.services import inbound_message_store
from routing.flows.models import Flow, FlowVersion
from routing.models import EntryPoint, Task
from tests.routing.flows.conftest import flow_doc
from tests.tenants.test_admin_login import sign_in

pytestmark = pytest.mark.django_db


def receive(asset, capture, provider_id: str = "wamid.IN1", text: str = "Hallo"):
    with capture(execute=True):
        message, _ = inbound_message_store(
            asset=asset,
            item=InboundMessage(
                provider_message_id=provider_id,
                sender_address="4915100000042",
                sender_name="Eva",
                text=text,
            ),
        )
    return message


@pytest.fixture
def draft_only_entry_point(tenant, asset, publish):
    version = publish(flow_doc({"route": {"type": "queue_task", "queue": "Support", "next": None}}))
    draft = Flow.objects.create(tenant=tenant, name="Unpublished", kind=version.flow.kind)
    FlowVersion.objects.create(
        tenant=tenant,
        flow=draft,
        number=1,
        definition=version.definition,
        status=FlowVersion.Status.DRAFT,
    )
    return EntryPoint.objects.create(
        tenant=tenant,
        name="WhatsApp entry",
        channel_type="social",
        social_channel_type="whatsapp",
        asset=asset,
        flow=draft,
    )


def test_a_message_of_an_asset_without_entry_point_waits_in_the_default_queue(
    asset, queues, django_capture_on_commit_callbacks
):
    message = receive(asset, django_capture_on_commit_callbacks)
    receive(asset, django_capture_on_commit_callbacks, provider_id="wamid.IN2", text="Hallo?")

    task = Task.objects.get(conversation=message.conversation)
    assert task.queue == queues["Default"]


def test_a_message_whose_flow_has_no_published_version_waits_in_the_default_queue(
    asset, queues, draft_only_entry_point, django_capture_on_commit_callbacks
):
    message = receive(asset, django_capture_on_commit_callbacks)

    assert Task.objects.get(conversation=message.conversation).queue == queues["Default"]


def test_without_a_default_queue_the_message_is_stored_and_not_queued(
    asset, django_capture_on_commit_callbacks
):
    message = receive(asset, django_capture_on_commit_callbacks)

    assert message.pk and not Task.objects.exists()


def test_the_asset_page_warns_the_admin_where_its_messages_go(
    client, owner, asset, queues, draft_only_entry_point
):
    sign_in(client, owner.email)

    page = client.get(f"/admin/channels_app/channelasset/{asset.pk}/change/")

    assert page.status_code == 200
    text = page.content.decode()
    assert "Flow Unpublished of entry point WhatsApp entry has no published version" in text
    assert "wait in the default queue Default" in text


def test_the_asset_page_says_messages_are_never_queued_without_a_default_queue(
    client, owner, asset
):
    sign_in(client, owner.email)

    page = client.get(f"/admin/channels_app/channelasset/{asset.pk}/change/")

    assert "This asset has no entry point, and the tenant has no default queue" in (
        page.content.decode()
    )


def test_a_wired_asset_has_no_warning_and_healthz_counts_the_others(
    client, owner, tenant, asset, queues, publish
):
    version = publish(flow_doc({"route": {"type": "queue_task", "queue": "Support", "next": None}}))
    EntryPoint.objects.create(
        tenant=tenant,
        name="WhatsApp entry",
        channel_type="social",
        social_channel_type="whatsapp",
        asset=asset,
        flow=version.flow,
    )
    sign_in(client, owner.email)
    page = client.get(f"/admin/channels_app/channelasset/{asset.pk}/change/")
    assert "default queue" not in page.content.decode()
    assert client.get("/healthz").json()["checks"]["routing"]["status"] == "ok"

    asset.entry_point.delete()
    health = client.get("/healthz")

    assert health.status_code == 200
    routing = health.json()["checks"]["routing"]
    assert routing["status"] == "warning"
    assert routing["detail"].startswith("1 channel asset(s) have no entry point")
    assert asset.name not in routing["detail"]  # /healthz is public: counts, not names


def test_an_outsider_does_not_see_the_asset_page(client, outsider, asset):
    sign_in(client, outsider.email)

    page = client.get(f"/admin/channels_app/channelasset/{asset.pk}/change/")

    assert page.status_code == 302 and page.url == "/admin/"
