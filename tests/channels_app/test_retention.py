"""Retention deletes expired transcripts with everything holding their words (messages, attachment
files, flow runs, raw webhook bodies), expires processed raw events on its own, works in batches,
and leaves one audit row per tenant and run."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from channels_app.models import (
    Attachment,
    Conversation,
    InboundEvent,
    Message,
    RetentionRun,
)
from channels_app.services import retention_purge
from channels_app.tasks import purge_expired_transcripts
from routing.flows import services as flow_services
from routing.flows.models import FlowRun
from tests.factories import ChannelAssetFactory, ConversationFactory, MessageFactory
from tests.routing.flows.conftest import flow_doc

SET_ONLY = {
    "note": {
        "type": "set_variables",
        "assignments": [{"name": "topic", "value": "{{message.text}}"}],
        "next": None,
    }
}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.RAW_EVENT_RETENTION_HOURS = 72


def _raw_event(asset, provider_id: str, *, status: str, hours_ago: float) -> InboundEvent:
    return InboundEvent.objects.create(
        tenant=asset.tenant,
        asset=asset,
        provider_event_id=provider_id,
        body='{"from": "+4915112345678", "text": "card 4111 1111 1111 1111"}',
        status=status,
        received_at=timezone.now() - timedelta(hours=hours_ago),
    )


def _expired_conversation(asset, *, days: int, provider_id: str) -> Conversation:
    conversation = ConversationFactory(
        asset=asset, status="closed", closed_at=timezone.now() - timedelta(days=days)
    )
    message = MessageFactory(conversation=conversation, provider_message_id=provider_id)
    attachment = Attachment(tenant=asset.tenant, message=message, filename="id-card.png")
    attachment.file.save("id-card.png", ContentFile(b"\x89PNG passport scan"), save=True)
    version = flow_services.flow_import(
        tenant=asset.tenant,
        document=flow_doc(SET_ONLY, variables=[{"name": "topic", "type": "string"}]),
        name=f"Notes {provider_id}",
    )
    FlowRun.objects.create(
        tenant=asset.tenant,
        flow=version.flow,
        flow_version=version,
        conversation=conversation,
        trigger="inbound_message",
    )
    return conversation


def test_an_expired_transcript_goes_with_its_raw_events_files_and_flow_runs(tenant):
    tenant.policy.transcript_retention_days = 30
    tenant.policy.save()
    asset = ChannelAssetFactory(tenant=tenant, wa_phone_number_id="1", wa_business_account_id="2")
    old = _expired_conversation(asset, days=31, provider_id="wamid.OLD")
    path = Attachment.objects.get(message__conversation=old).file.path
    # Received an hour ago (a redelivery, say): it goes because its conversation goes.
    _raw_event(asset, "wamid.OLD", status="processed", hours_ago=1)
    recent = ConversationFactory(
        asset=asset, status="closed", closed_at=timezone.now() - timedelta(days=29)
    )

    assert purge_expired_transcripts.delay().get() == 1

    assert list(Conversation.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not Message.objects.filter(conversation_id=old.pk).exists()
    assert not Attachment.objects.exists()
    assert not FlowRun.objects.exists()
    assert not InboundEvent.objects.exists()
    import os

    assert not os.path.exists(path)
    run = RetentionRun.objects.get()
    assert (run.tenant, run.conversations, run.messages, run.raw_events) == (tenant, 1, 1, 1)
    assert (run.flow_runs, run.files, run.kept) == (1, 1, 0)
    assert run.started_at <= run.finished_at


def test_processed_raw_events_expire_on_their_own_and_dead_letters_last_as_long_as_transcripts(
    tenant,
):
    tenant.policy.transcript_retention_days = 30
    tenant.policy.save()
    asset = ChannelAssetFactory(tenant=tenant, wa_phone_number_id="1", wa_business_account_id="2")
    expired = _raw_event(asset, "e1", status="processed", hours_ago=73)
    ignored = _raw_event(asset, "e2", status="ignored", hours_ago=73)
    fresh = _raw_event(asset, "e3", status="processed", hours_ago=71)
    dead = _raw_event(asset, "e4", status="dead", hours_ago=73)
    ancient_dead = _raw_event(asset, "e5", status="dead", hours_ago=31 * 24)

    retention_purge()

    left = set(InboundEvent.objects.values_list("pk", flat=True))
    assert left == {fresh.pk, dead.pk}
    assert not {expired.pk, ignored.pk, ancient_dead.pk} & left
    assert RetentionRun.objects.get().raw_events == 3


def test_the_raw_event_retention_is_configurable(tenant, settings):
    settings.RAW_EVENT_RETENTION_HOURS = 1
    asset = ChannelAssetFactory(tenant=tenant, wa_phone_number_id="1", wa_business_account_id="2")
    _raw_event(asset, "e1", status="processed", hours_ago=2)

    retention_purge()

    assert not InboundEvent.objects.exists()


def test_the_purge_deletes_in_batches(tenant):
    tenant.policy.transcript_retention_days = 30
    tenant.policy.save()
    asset = ChannelAssetFactory(tenant=tenant, wa_phone_number_id="1", wa_business_account_id="2")
    for n in range(5):
        conversation = ConversationFactory(
            asset=asset, status="closed", closed_at=timezone.now() - timedelta(days=40)
        )
        MessageFactory(conversation=conversation, provider_message_id=f"wamid.{n}")
        _raw_event(asset, f"other.{n}", status="processed", hours_ago=100)

    with CaptureQueriesContext(connection) as queries:
        (run,) = retention_purge(batch=2)

    deletes = [
        q["sql"] for q in queries if q["sql"].startswith('DELETE FROM "channels_app_conversation"')
    ]
    assert len(deletes) == 3  # 2 + 2 + 1
    assert (run.conversations, run.messages, run.raw_events) == (5, 5, 5)
    assert not Conversation.objects.exists()


def test_a_tenant_with_nothing_to_delete_leaves_no_audit_row(tenant):
    ChannelAssetFactory(tenant=tenant, wa_phone_number_id="1", wa_business_account_id="2")

    assert retention_purge() == []
    assert not RetentionRun.objects.exists()


def test_each_tenants_retention_applies_to_its_own_data_only(tenant, other_tenant):
    tenant.policy.transcript_retention_days = 30
    tenant.policy.save()
    acme = ChannelAssetFactory(tenant=tenant, wa_phone_number_id="1", wa_business_account_id="2")
    globex = ChannelAssetFactory(
        tenant=other_tenant, wa_phone_number_id="3", wa_business_account_id="4"
    )
    _expired_conversation(acme, days=31, provider_id="wamid.SAME")
    kept = _expired_conversation(globex, days=31, provider_id="wamid.SAME")  # keeps 365 days
    globex_event = _raw_event(globex, "wamid.SAME", status="processed", hours_ago=1)

    retention_purge()

    assert list(Conversation.objects.values_list("pk", flat=True)) == [kept.pk]
    assert list(InboundEvent.objects.values_list("pk", flat=True)) == [globex_event.pk]
    assert list(RetentionRun.objects.values_list("tenant", flat=True)) == [tenant.pk]


def test_the_retention_audit_is_read_only_in_the_console_and_scoped(
    client, owner, outsider, tenant
):
    run = RetentionRun.objects.create(tenant=tenant, conversations=7, raw_events=3)
    client.force_login(owner)

    listing = client.get("/admin/channels_app/retentionrun/")
    add = client.get("/admin/channels_app/retentionrun/add/")
    client.force_login(outsider)
    outsider_detail = client.get(f"/admin/channels_app/retentionrun/{run.pk}/change/")

    assert listing.status_code == 200
    assert b">7<" in listing.content
    assert add.status_code == 403
    assert outsider_detail.status_code == 302  # another tenant's run does not exist for them
