"""Channel templates: defaults per channel, a tenant's own, and what a template refuses."""

import pytest

from channels_app.media import attachment_refusal
from channels_app.models import ChannelKind, ChannelTemplate
from channels_app.selectors import channel_template_for

MB = 1024 * 1024


@pytest.mark.parametrize(
    "kind, max_bytes, takes, refuses",
    [
        (ChannelKind.WHATSAPP, 100 * MB, "image/jpeg", "image/gif"),
        (ChannelKind.MESSENGER, 25 * MB, "video/mp4", "application/x-msdownload"),
        (ChannelKind.SMS, 5 * MB, "image/png", "application/zip"),
    ],
)
def test_each_channel_has_a_default_from_its_provider(tenant, kind, max_bytes, takes, refuses):
    template = channel_template_for(tenant=tenant, kind=kind)

    assert template.pk is None
    assert template.max_bytes == max_bytes
    assert attachment_refusal(template=template, content_type=takes, size=1000) is None
    assert attachment_refusal(template=template, content_type=refuses, size=1000)


def test_every_channel_kind_has_a_default(tenant):
    for kind in ChannelKind.values:
        template = channel_template_for(tenant=tenant, kind=kind)
        template.full_clean(exclude=["tenant"])


def test_a_saved_template_wins_over_the_default(tenant):
    ChannelTemplate.objects.create(
        tenant=tenant,
        kind=ChannelKind.WHATSAPP,
        label="WA",
        colour="#000000",
        allowed_content_types=["application/pdf"],
        max_bytes=1000,
    )

    template = channel_template_for(tenant=tenant, kind=ChannelKind.WHATSAPP)

    assert template.label == "WA"
    assert attachment_refusal(template=template, content_type="image/png", size=10)


def test_another_tenants_template_is_not_used(tenant, other_tenant):
    ChannelTemplate.objects.create(
        tenant=other_tenant,
        kind=ChannelKind.SMS,
        label="Globex SMS",
        colour="#000000",
        allowed_content_types=["*/*"],
        max_bytes=1,
    )

    template = channel_template_for(tenant=tenant, kind=ChannelKind.SMS)

    assert template.pk is None
    assert template.label == "SMS"


def test_a_family_takes_every_type_in_it():
    template = ChannelTemplate(label="Chat", allowed_content_types=["image/*"], max_bytes=100)

    assert attachment_refusal(template=template, content_type="image/webp", size=1) is None
    assert attachment_refusal(template=template, content_type="IMAGE/PNG; x=1", size=1) is None


def test_refusals_say_why_in_words():
    template = ChannelTemplate(
        label="WhatsApp", allowed_content_types=["image/jpeg"], max_bytes=5 * MB
    )

    too_big = attachment_refusal(template=template, content_type="image/jpeg", size=6 * MB)
    wrong_type = attachment_refusal(
        template=template, content_type="application/x-msdownload", size=10
    )
    unknown = attachment_refusal(template=template, content_type="", size=10)

    assert too_big == "The file is 6 MB; WhatsApp takes files up to 5 MB."
    assert wrong_type == (
        "WhatsApp does not take files of type application/x-msdownload (it takes: image/jpeg)."
    )
    assert "application/octet-stream" in unknown


def test_the_size_limit_is_inclusive():
    template = ChannelTemplate(label="SMS", allowed_content_types=["image/*"], max_bytes=100)

    assert attachment_refusal(template=template, content_type="image/png", size=100) is None
    assert attachment_refusal(template=template, content_type="image/png", size=101)


def test_a_template_with_unknown_elements_or_bad_types_does_not_validate(tenant):
    template = ChannelTemplate.default_for(tenant=tenant, kind=ChannelKind.CHAT)
    template.rich_elements = ["fireworks"]
    template.allowed_content_types = ["images"]
    template.colour = "blue"

    with pytest.raises(Exception) as info:
        template.full_clean()

    assert set(info.value.message_dict) == {"rich_elements", "allowed_content_types", "colour"}


@pytest.fixture
def located(tenant, agent):
    """A WhatsApp conversation bob owns, with a shared location."""
    from tests.factories import MessageFactory
    from tests.routing.factories import make_conversation

    conversation = make_conversation(tenant=tenant, kind="whatsapp")
    conversation.owner = agent
    conversation.save(update_fields=["owner"])
    MessageFactory(
        conversation=conversation,
        content_type="location",
        text="",
        content={"latitude": 52.52, "longitude": 13.40, "name": "Brandenburg Gate"},
    )
    return conversation


def test_the_desktop_shows_the_channel_as_its_template_says(client, tenant, agent, located):
    ChannelTemplate.objects.create(
        tenant=tenant,
        kind="whatsapp",
        label="WA Support",
        colour="#123456",
        rich_elements=["locations"],
        allowed_content_types=["image/*"],
        max_bytes=1000,
    )
    client.force_login(agent.user)

    state = client.get("/desktop/state/").json()
    page = client.get("/desktop/").content.decode()
    panel = client.get(f"/desktop/conversations/{located.pk}/").content.decode()

    assert [c["kind_label"] for c in state["conversations"]] == ["WA Support"]
    assert ".channel-whatsapp { background: #12345626; border: 1px solid #123456; }" in page
    assert "openstreetmap.org" in panel


def test_a_rich_element_the_template_leaves_out_shows_as_text(client, tenant, agent, located):
    ChannelTemplate.objects.create(
        tenant=tenant,
        kind="whatsapp",
        label="WhatsApp",
        colour="#25d366",
        rich_elements=[],
        allowed_content_types=["image/*"],
        max_bytes=1000,
    )
    client.force_login(agent.user)

    panel = client.get(f"/desktop/conversations/{located.pk}/").content.decode()

    assert "openstreetmap.org" not in panel


def test_another_tenants_template_never_changes_this_desktop(client, other_tenant, agent, located):
    ChannelTemplate.objects.create(
        tenant=other_tenant,
        kind="whatsapp",
        label="Globex WA",
        colour="#000000",
        rich_elements=[],
        allowed_content_types=[],
        max_bytes=1,
    )
    client.force_login(agent.user)

    state = client.get("/desktop/state/").json()
    panel = client.get(f"/desktop/conversations/{located.pk}/").content.decode()

    assert [c["kind_label"] for c in state["conversations"]] == ["WhatsApp"]
    assert "openstreetmap.org" in panel
