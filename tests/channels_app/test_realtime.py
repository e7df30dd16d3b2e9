import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from channels_app.models import Conversation
from tenants.realtime import agent_group
from tests.channels_app.conftest import load_fixture


def test_the_owning_agent_is_told_about_a_new_inbound_message(deliver, whatsapp_asset, agent):
    deliver(whatsapp_asset, load_fixture("whatsapp", "text"))
    conversation = Conversation.objects.get()
    conversation.owner = agent
    conversation.save(update_fields=["owner"])
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(agent_group(agent.pk), channel)
    try:
        deliver(whatsapp_asset, load_fixture("whatsapp", "location"))
        event = async_to_sync(asyncio.wait_for)(layer.receive(channel), timeout=5)
    finally:
        async_to_sync(layer.group_discard)(agent_group(agent.pk), channel)

    assert event["event"] == "message.new"
    assert event["payload"]["conversation_id"] == conversation.pk


def test_an_agent_of_another_tenant_hears_nothing_of_it(
    deliver, whatsapp_asset, agent, other_tenant
):
    from tests.factories import AgentFactory

    stranger = AgentFactory(tenant=other_tenant)
    deliver(whatsapp_asset, load_fixture("whatsapp", "text"))
    conversation = Conversation.objects.get()
    conversation.owner = agent
    conversation.save(update_fields=["owner"])
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(agent_group(stranger.pk), channel)
    try:
        deliver(whatsapp_asset, load_fixture("whatsapp", "location"))
        with pytest.raises(asyncio.TimeoutError):
            async_to_sync(asyncio.wait_for)(layer.receive(channel), timeout=1)
    finally:
        async_to_sync(layer.group_discard)(agent_group(stranger.pk), channel)


def test_the_owning_agent_is_told_when_an_attachments_scan_is_done(
    deliver, whatsapp_asset, agent, fake_provider, private_clamd, django_capture_on_commit_callbacks
):
    from channels_app.models import Attachment
    from channels_app.services.attachments import attachments_requeue_pending_scans

    private_clamd.stop()
    deliver(whatsapp_asset, load_fixture("whatsapp", "image"))
    conversation = Conversation.objects.get()
    conversation.owner = agent
    conversation.save(update_fields=["owner"])
    private_clamd.start()
    Attachment.objects.update(scan_queued_at=None)
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(agent_group(agent.pk), channel)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            attachments_requeue_pending_scans()
        event = async_to_sync(asyncio.wait_for)(layer.receive(channel), timeout=5)
    finally:
        async_to_sync(layer.group_discard)(agent_group(agent.pk), channel)

    assert event["event"] == "message.attachments"
    assert event["payload"]["conversation_id"] == conversation.pk
