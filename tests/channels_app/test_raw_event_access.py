"""Raw webhook bodies are conversation data: only people who may read transcripts see them, and
the dead-letter endpoint lists dead letters only."""

import pytest

from channels_app.models import InboundEvent
from tenants.roles import AdminRole, TenantKind
from tests.channels_app.conftest import load_fixture, post_meta
from tests.factories import TenantFactory, member


@pytest.fixture
def partner(db):
    return TenantFactory(name="Partner", slug="partner", kind=TenantKind.PARTNER)


@pytest.fixture
def tenant(partner):
    """Acme, managed by a partner."""
    return TenantFactory(name="Acme", slug="acme", partner=partner)


@pytest.fixture
def partner_admin(partner):
    """paula: full admin of the partner, and so of Acme's configuration, but not its transcripts."""
    return member(tenant=partner, email="paula@partner.test", admin_role=AdminRole.FULL_ADMIN)


@pytest.fixture
def events(client, deliver, whatsapp_asset):
    deliver(whatsapp_asset, load_fixture("whatsapp", "text"))
    post_meta(client, whatsapp_asset, load_fixture("whatsapp", "malformed_missing_from"))
    return {
        "processed": InboundEvent.objects.get(status=InboundEvent.Status.PROCESSED),
        "dead": InboundEvent.objects.get(status=InboundEvent.Status.DEAD),
    }


def test_the_dead_letter_list_refuses_to_list_other_statuses(api_as, owner, events):
    api = api_as(owner)

    processed = api.get("/api/v1/dead-letters/?status=processed")
    plain = api.get("/api/v1/dead-letters/")

    assert processed.status_code == 400
    assert "dead letters only" in processed.json()["status"]
    assert [e["id"] for e in plain.json()["results"]] == [events["dead"].pk]


def test_a_partner_admin_sees_dead_letters_but_not_their_raw_bodies(api_as, partner_admin, events):
    api = api_as(partner_admin)

    listed = api.get("/api/v1/dead-letters/").json()["results"]
    detail = api.get(f"/api/v1/dead-letters/{events['processed'].pk}/")

    assert [e["id"] for e in listed] == [events["dead"].pk]
    assert listed[0]["body"] is None
    assert listed[0]["error"]
    assert detail.status_code == 200
    assert detail.json()["body"] is None
    assert "Kerry Fisher" not in detail.content.decode()


def test_an_owner_who_reads_transcripts_sees_the_raw_body(api_as, owner, events):
    body = api_as(owner).get(f"/api/v1/dead-letters/{events['dead'].pk}/").json()["body"]

    assert "Kerry Fisher" in body


def test_the_outsider_gets_404_for_raw_events(api_as, outsider, events):
    api = api_as(outsider)

    assert api.get("/api/v1/dead-letters/").json()["results"] == []
    for event in events.values():
        assert api.get(f"/api/v1/dead-letters/{event.pk}/").status_code == 404


def test_the_console_shows_a_partner_admin_dead_letters_only_and_no_body(
    client, partner_admin, tenant, events
):
    client.force_login(partner_admin)
    client.get(f"/admin/switch-tenant/{tenant.pk}/")

    listing = client.get("/admin/channels_app/inboundevent/")
    processed = client.get(f"/admin/channels_app/inboundevent/{events['processed'].pk}/change/")
    dead = client.get(f"/admin/channels_app/inboundevent/{events['dead'].pk}/change/")

    assert listing.status_code == 200
    assert events["dead"].provider_event_id.encode() in listing.content
    assert events["processed"].provider_event_id.encode() not in listing.content
    assert processed.status_code == 302  # does not exist for them
    assert dead.status_code == 200
    assert "Raw body" not in dead.content.decode()
    assert "Kerry Fisher" not in dead.content.decode()


def test_the_console_shows_the_owner_every_raw_event_with_its_body(client, owner, events):
    client.force_login(owner)

    page = client.get(f"/admin/channels_app/inboundevent/{events['processed'].pk}/change/")

    assert page.status_code == 200
    assert "Raw body" in page.content.decode()
