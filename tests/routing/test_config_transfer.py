"""A tenant's configuration exported and imported: a round trip into a fresh tenant gives the same
configuration, secrets never leave, a second import changes nothing, a broken file is refused
whole with its reasons, and no other tenant is read or touched."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from channels_app.models import ChannelAsset, ChannelTemplate, ChatWidget
from channels_app.services import channel_asset_create
from routing.flows import services as flows
from routing.flows.models import AuthorizableNode, Flow, FlowVersion, GlobalVariable
from routing.models import EntryPoint, Queue, Skill, SkillProfile, TeamSkillProfile
from routing.services import skill_profile_values_replace
from tenants.models import IdleCode, MultimediaProfile, Site, Team, Tenant, WrapUpCode
from tests.channels_app.conftest import post_meta
from tests.factories import TeamFactory
from tests.routing.factories import make_queue, make_skill

pytestmark = pytest.mark.django_db

SECRETS = {
    "app_secret": "meta-app-secret-7f3a9c",
    "verify_token": "meta-verify-token-51be",
    "access_token": "EAAG-access-token-d00d",
}


@pytest.fixture
def configured(tenant, owner):
    """Acme with one of everything the export carries."""
    profile = MultimediaProfile.objects.create(tenant=tenant, name="Chat heavy", max_chat=5)
    site = Site.objects.create(tenant=tenant, name="Berlin", multimedia_profile=profile)
    support = Team.objects.create(tenant=tenant, name="Support", site=site)
    billing = Team.objects.create(tenant=tenant, name="Billing", site=site)
    IdleCode.objects.create(tenant=tenant, name="Lunch")
    WrapUpCode.objects.create(tenant=tenant, name="Resolved")
    make_skill(tenant=tenant, name="German", type="proficiency")
    make_skill(tenant=tenant, name="Tier", type="enum", enum_values=["gold", "silver"])
    skills = SkillProfile.objects.create(tenant=tenant, name="Berlin skills")
    skill_profile_values_replace(profile=skills, values={"German": 8, "Tier": "gold"})
    TeamSkillProfile.objects.create(tenant=tenant, team=support, profile=skills)
    overflow = make_queue(tenant=tenant, teams=[billing], name="Overflow", channel_type="social")
    make_queue(
        tenant=tenant,
        teams=[support, billing],
        name="WhatsApp queue",
        channel_type="social",
        max_time_in_queue_seconds=600,
        overflow_queue=overflow,
    )
    ChannelTemplate.objects.create(
        tenant=tenant, kind="whatsapp", label="WA", colour="#25d366", max_bytes=5_000_000
    )
    whatsapp = channel_asset_create(
        tenant=tenant,
        kind="whatsapp",
        name="WhatsApp Support",
        wa_phone_number_id="1065403",
        wa_business_account_id="1022901",
        **SECRETS,
    )
    chat = channel_asset_create(tenant=tenant, kind="chat", name="Website chat")
    ChatWidget.objects.filter(asset=chat).update(
        title="Talk to Acme", allowed_origins="https://shop.example", identity_secret="site-hmac"
    )
    GlobalVariable.objects.create(tenant=tenant, name="vip", type="boolean", agent_visible=True)
    for node in AuthorizableNode.values:
        flows.node_authorization_authorize(tenant=tenant, node=node, user=owner)
    flow = flows.flow_import_template(tenant=tenant, template_name="whatsapp_inbound", user=owner)
    EntryPoint.objects.create(
        tenant=tenant,
        name="WA entry",
        channel_type="social",
        social_channel_type="whatsapp",
        asset=whatsapp,
        flow=flow,
    )
    return tenant


def export(slug: str) -> str:
    out = StringIO()
    call_command("tenant_export", slug, stdout=out)
    return out.getvalue()


def import_file(tmp_path, text: str, *args: str) -> str:
    path = tmp_path / "config.json"
    path.write_text(text)
    out = StringIO()
    call_command("tenant_import", str(path), *args, stdout=out)
    return out.getvalue()


def comparable(text: str) -> dict:
    """The configuration itself: without who it came from, when, and which secrets were set."""
    document = json.loads(text)
    for key in ("tenant", "exported_at"):
        document.pop(key)
    for asset in document["channel_assets"]:
        asset.pop("secrets_to_enter")
    return document


def leave_the_installation(tenant: Tenant) -> None:
    """Provider ids are unique per installation: the source's assets go, as if it were elsewhere."""
    EntryPoint.objects.filter(tenant=tenant).delete()
    ChannelAsset.objects.filter(tenant=tenant).delete()


def test_a_round_trip_into_a_fresh_tenant_gives_the_same_configuration(tmp_path, configured):
    exported = export("acme")
    leave_the_installation(configured)

    output = import_file(tmp_path, exported, "--tenant-slug", "acme-copy")

    copy = Tenant.objects.get(slug="acme-copy")
    assert "Tenant acme-copy created." in output
    assert comparable(export("acme-copy")) == comparable(exported)
    queue = Queue.objects.get(tenant=copy, name="WhatsApp queue")
    assert queue.overflow_queue.name == "Overflow" and queue.overflow_queue.tenant == copy
    assert {t.name for t in queue.teams.all()} == {"Support", "Billing"}
    assert Skill.objects.get(tenant=copy, name="Tier").enum_values == ["gold", "silver"]
    entry = EntryPoint.objects.get(tenant=copy)
    assert entry.asset.tenant == copy and entry.flow.tenant == copy
    version = FlowVersion.objects.get(flow=entry.flow)
    assert version.status == FlowVersion.Status.PUBLISHED
    assert TeamSkillProfile.objects.get(team__tenant=copy).profile.name == "Berlin skills"


def test_secrets_are_not_in_the_file_and_imported_assets_ask_for_them(tmp_path, client, configured):
    exported = export("acme")
    leave_the_installation(configured)

    output = import_file(tmp_path, exported, "--tenant-slug", "acme-copy")

    for secret in [*SECRETS.values(), "site-hmac"]:
        assert secret not in exported
    [whatsapp] = [a for a in json.loads(exported)["channel_assets"] if a["kind"] == "whatsapp"]
    assert whatsapp["secrets_to_enter"] == ["app_secret", "verify_token", "access_token"]
    assert "'WhatsApp Support' needs its secrets entered" in output
    assert "app_secret, verify_token, access_token" in output
    assert "chat_widget.identity_secret" in output
    asset = ChannelAsset.objects.get(tenant__slug="acme-copy", kind="whatsapp")
    assert asset.app_secret == "" and asset.access_token == ""
    # Until the secret is entered, no webhook is trusted, not even one signed with the old one.
    response = post_meta(client, asset, {"object": "whatsapp_business_account"}, secret="x")
    assert response.status_code == 403


def test_importing_the_same_file_twice_changes_nothing_the_second_time(tmp_path, configured):
    exported = export("acme")
    leave_the_installation(configured)
    import_file(tmp_path, exported, "--tenant-slug", "acme-copy")
    counts = {
        model: model.objects.filter(tenant__slug="acme-copy").count()
        for model in (Queue, Skill, Flow, FlowVersion, ChannelAsset, EntryPoint, Team, Site)
    }

    output = import_file(tmp_path, exported, "--tenant-slug", "acme-copy")

    assert "Tenant acme-copy updated." in output
    assert " 0 created, 0 updated" in output and "created, 1 updated" not in output
    for line in output.splitlines()[1:]:
        if "created" in line:
            assert ": 0 created, 0 updated," in line, line
    assert counts == {
        model: model.objects.filter(tenant__slug="acme-copy").count() for model in counts
    }


def test_a_reimport_updates_what_changed_in_the_file(tmp_path, configured):
    document = json.loads(export("acme"))
    leave_the_installation(configured)
    import_file(tmp_path, json.dumps(document), "--tenant-slug", "acme-copy")
    [profile] = document["multimedia_profiles"]
    profile["max_chat"] = 7

    output = import_file(tmp_path, json.dumps(document), "--tenant-slug", "acme-copy")

    assert "multimedia_profiles: 0 created, 1 updated, 0 unchanged" in output
    assert MultimediaProfile.objects.get(tenant__slug="acme-copy").max_chat == 7


def test_a_broken_file_is_refused_whole_with_every_reason(tmp_path, configured):
    document = json.loads(export("acme"))
    leave_the_installation(configured)
    document["queues"][0]["teams"] = ["Nobody"]
    document["skills"][1]["enum_values"] = []
    document["flows"][0]["published_versions"][0]["definition"]["nodes"] = "not a graph"

    with pytest.raises(CommandError) as caught:
        import_file(tmp_path, json.dumps(document), "--tenant-slug", "acme-copy")

    message = str(caught.value)
    assert message.startswith("Nothing was imported:")
    assert "refers to team 'Nobody'" in message
    assert "skills['Tier']: enum_values: An enumeration skill needs a list" in message
    assert "flows['WhatsApp inbound'] version 1" in message or "version 1: $.nodes" in message
    assert not Tenant.objects.filter(slug="acme-copy").exists()


def test_a_second_default_queue_is_refused_with_the_reason(tmp_path, configured, other_tenant):
    document = json.loads(export("acme"))
    leave_the_installation(configured)
    document["queues"][0]["default"] = True
    TeamFactory(tenant=other_tenant, name="Front")
    Queue.objects.create(tenant=other_tenant, name="Fallback", channel_type="chat", default=True)

    with pytest.raises(CommandError, match="'Fallback' already is here"):
        import_file(tmp_path, json.dumps(document), "--tenant-slug", "globex")

    assert list(Queue.objects.filter(tenant=other_tenant).values_list("name", flat=True)) == [
        "Fallback"
    ]


@pytest.mark.parametrize(
    "text, reason",
    [
        ("{not json", "cannot be read as JSON"),
        ('{"format": "something else"}', "not a tenant configuration file"),
        ('{"format": "contact-center/tenant-config", "version": 9}', "format version 9"),
    ],
)
def test_a_file_that_is_not_an_export_is_refused(tmp_path, tenant, text, reason):
    with pytest.raises(CommandError, match=reason):
        import_file(tmp_path, text, "--tenant-slug", "acme")


def test_an_import_never_touches_another_tenant(tmp_path, configured, other_tenant):
    theirs = TeamFactory(tenant=other_tenant, name="Support")
    their_queue = make_queue(tenant=other_tenant, teams=[theirs], name="WhatsApp queue")
    exported = export("acme")

    # While Acme still holds the WhatsApp number, another tenant cannot take it: refused whole,
    # naming the field only.
    with pytest.raises(CommandError) as caught:
        import_file(tmp_path, exported, "--tenant-slug", "acme-copy")
    assert "wa_phone_number_id '1065403' is already used by another tenant's asset" in str(
        caught.value
    )
    assert "Acme" not in str(caught.value)
    assert not Tenant.objects.filter(slug="acme-copy").exists()

    leave_the_installation(configured)
    import_file(tmp_path, exported, "--tenant-slug", "acme-copy")

    their_queue.refresh_from_db()
    assert their_queue.overflow_queue is None and their_queue.max_time_in_queue_seconds is None
    assert list(their_queue.teams.all()) == [theirs]
    assert Team.objects.filter(tenant=other_tenant).count() == 1
    assert Queue.objects.filter(name="WhatsApp queue").count() == 3  # Acme's, Globex's, the copy's
    assert Queue.objects.get(tenant__slug="acme-copy", name="WhatsApp queue").teams.count() == 2


def test_exporting_an_unknown_tenant_is_an_error(db):
    with pytest.raises(CommandError, match="No tenant with slug 'nobody'"):
        export("nobody")
