"""Channel templates in the admin console and the API: tenant admins edit them, supervisors read
them, partner admins and outsiders never reach them."""

import pytest

from channels_app.models import ChannelTemplate
from tenants.models import TenantKind
from tenants.roles import AdminRole
from tests.factories import TenantFactory, member

BODY = {
    "kind": "whatsapp",
    "label": "WhatsApp Support",
    "colour": "#128c7e",
    "rich_elements": ["buttons", "locations"],
    "allowed_content_types": ["image/*", "application/pdf"],
    "max_bytes": 10_000_000,
}


@pytest.fixture
def partner_admin(tenant):
    """A full admin of the partner that manages Acme."""
    partner = TenantFactory(name="Partner Ltd", kind=TenantKind.PARTNER)
    tenant.partner = partner
    tenant.save(update_fields=["partner"])
    return member(tenant=partner, admin_role=AdminRole.FULL_ADMIN)


def test_a_tenant_admin_creates_reads_and_changes_a_template(api_as, owner, tenant):
    api = api_as(owner)

    created = api.post("/api/v1/channel-templates/", BODY, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["tenant"] == tenant.pk
    changed = api.patch(
        f"/api/v1/channel-templates/{created.json()['id']}/", {"max_bytes": 5}, format="json"
    )
    assert changed.status_code == 200
    assert ChannelTemplate.objects.get(tenant=tenant, kind="whatsapp").max_bytes == 5
    assert [t["kind"] for t in api.get("/api/v1/channel-templates/").json()["results"]] == [
        "whatsapp"
    ]


def test_a_second_template_for_the_same_channel_is_a_400(api_as, owner):
    api = api_as(owner)
    api.post("/api/v1/channel-templates/", BODY, format="json")

    again = api.post("/api/v1/channel-templates/", BODY, format="json")

    assert again.status_code == 400
    assert "kind" in again.json()


@pytest.mark.parametrize(
    "field, value",
    [
        ("colour", "green"),
        ("rich_elements", ["fireworks"]),
        ("allowed_content_types", ["images"]),
        ("max_bytes", 0),
        ("kind", "fax"),
    ],
)
def test_bad_template_values_are_a_400_naming_the_field(api_as, owner, field, value):
    response = api_as(owner).post(
        "/api/v1/channel-templates/", {**BODY, field: value}, format="json"
    )

    assert response.status_code == 400
    assert field in response.json()


def test_the_defaults_are_listed_for_every_channel(api_as, owner):
    defaults = api_as(owner).get("/api/v1/channel-templates/defaults/").json()

    by_kind = {t["kind"]: t for t in defaults}
    assert by_kind["whatsapp"]["max_bytes"] == 100 * 1024 * 1024
    assert by_kind["sms"]["max_bytes"] == 5 * 1024 * 1024
    assert by_kind["messenger"]["max_bytes"] == 25 * 1024 * 1024


def test_a_supervisor_reads_templates_but_cannot_write_them(api_as, supervisor, tenant):
    ChannelTemplate.objects.create(tenant=tenant, **BODY)
    api = api_as(supervisor)

    assert len(api.get("/api/v1/channel-templates/").json()["results"]) == 1
    assert (
        api.post("/api/v1/channel-templates/", {**BODY, "kind": "sms"}, format="json").status_code
        == 403
    )


def test_an_outsider_neither_sees_nor_changes_anothers_template(api_as, outsider, tenant):
    template = ChannelTemplate.objects.create(tenant=tenant, **BODY)
    api = api_as(outsider)

    assert api.get("/api/v1/channel-templates/").json()["results"] == []
    assert api.get(f"/api/v1/channel-templates/{template.pk}/").status_code == 404
    assert (
        api.patch(
            f"/api/v1/channel-templates/{template.pk}/", {"label": "x"}, format="json"
        ).status_code
        == 404
    )
    create = api.post("/api/v1/channel-templates/", {**BODY, "tenant": tenant.pk}, format="json")
    assert create.status_code == 404


def test_a_partner_admin_never_reaches_templates(api_as, client, partner_admin, tenant):
    template = ChannelTemplate.objects.create(tenant=tenant, **BODY)
    api = api_as(partner_admin)

    assert api.get("/api/v1/channel-templates/").json()["results"] == []
    assert api.get(f"/api/v1/channel-templates/{template.pk}/").status_code == 404
    assert api.get("/api/v1/channel-templates/defaults/").status_code == 403
    create = api.post("/api/v1/channel-templates/", {**BODY, "tenant": tenant.pk}, format="json")
    assert create.status_code == 404

    client.force_login(partner_admin)
    client.get(f"/admin/switch-tenant/{tenant.pk}/")
    assert b"/admin/channels_app/channeltemplate/" not in client.get("/admin/").content
    assert client.get("/admin/channels_app/channeltemplate/").status_code == 403
    assert (
        client.get(f"/admin/channels_app/channeltemplate/{template.pk}/change/").status_code == 403
    )


def test_the_console_adds_a_template_starting_from_the_channels_defaults(client, owner, tenant):
    client.force_login(owner)

    page = client.get("/admin/channels_app/channeltemplate/add/?kind=sms")
    assert page.status_code == 200
    assert "#f22f46" in page.content.decode()
    response = client.post(
        "/admin/channels_app/channeltemplate/add/",
        {
            "kind": "sms",
            "label": "Texts",
            "colour": "#112233",
            "rich_elements": ["image_previews"],
            "allowed_content_types": "image/*\napplication/pdf\n",
            "max_bytes": "1000",
        },
    )

    assert response.status_code == 302
    template = ChannelTemplate.objects.get(tenant=tenant, kind="sms")
    assert template.allowed_content_types == ["image/*", "application/pdf"]
    again = client.post(
        "/admin/channels_app/channeltemplate/add/",
        {"kind": "sms", "label": "x", "colour": "#112233", "max_bytes": "1"},
    )
    assert again.status_code == 200
    assert "already has a template" in again.content.decode()


def test_the_console_refuses_bad_content_types(client, owner):
    client.force_login(owner)

    response = client.post(
        "/admin/channels_app/channeltemplate/add/",
        {
            "kind": "chat",
            "label": "Chat",
            "colour": "#112233",
            "allowed_content_types": "pictures",
            "max_bytes": "1000",
        },
    )

    assert response.status_code == 200
    assert "MIME types" in response.content.decode()
    assert not ChannelTemplate.objects.exists()
