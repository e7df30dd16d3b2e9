"""Canned responses in the desktop (who sees which, variables filled strictly) and values shown
with their labels, formatted for the agent's locale and time zone."""

import pytest

from channels_app.models import ChannelTemplate, Customer
from routing.canned import canned_fill, placeholders_unknown
from routing.flows.models import GlobalVariable
from routing.models import CannedResponse
from tenants.models import TenantPolicy
from tests.routing.factories import make_conversation, make_team


@pytest.fixture
def served(tenant, agent):
    conversation = make_conversation(
        tenant=tenant, kind="whatsapp", customer_name="Dana", text="Hi"
    )
    conversation.owner = agent
    conversation.variables = {"order_id": "A-17", "due": "2026-11-26T15:30:00+00:00"}
    conversation.save(update_fields=["owner", "variables"])
    return conversation


def test_filling_replaces_known_placeholders_and_empties_unknown_ones():
    values = {"customer.name": "Dana", "agent.name": "Bob", "conversation.order_id": "A-17"}

    text = canned_fill(
        "Hi {{ customer.name }}, {{agent.name}} here about {{conversation.order_id}}"
        "{{conversation.missing}}{{settings.SECRET_KEY}}{{ customer.__class__ }}.",
        values,
    )

    assert text == "Hi Dana, Bob here about A-17."


def test_a_value_that_looks_like_a_placeholder_or_template_code_stays_text():
    values = {"customer.name": "{{agent.name}} {% debug %} {{ request }}", "agent.name": "Bob"}

    assert canned_fill("Hello {{customer.name}}!", values) == (
        "Hello {{agent.name}} {% debug %} {{ request }}!"
    )


def test_unknown_placeholders_are_named_to_whoever_writes_the_response():
    assert placeholders_unknown("{{customer.name}} {{customer.email}} {{x}}") == [
        "customer.email",
        "x",
    ]


def test_an_agent_sees_the_tenants_and_their_teams_responses_filled(
    client, tenant, agent, served, team, other_tenant
):
    CannedResponse.objects.create(
        tenant=tenant,
        shortcut="hello",
        title="Greeting",
        text="Hi {{customer.name}}, I am {{agent.name}}.",
    )
    CannedResponse.objects.create(
        tenant=tenant,
        team=team,
        shortcut="order",
        title="Order",
        text="Order {{conversation.order_id}}",
    )
    CannedResponse.objects.create(
        tenant=tenant,
        team=make_team(tenant=tenant),
        shortcut="billing",
        title="Other team",
        text="x",
    )
    CannedResponse.objects.create(tenant=other_tenant, shortcut="theirs", title="Theirs", text="y")
    client.force_login(agent.user)

    response = client.get(f"/desktop/conversations/{served.pk}/canned/")

    assert response.status_code == 200
    assert [(r["shortcut"], r["text"]) for r in response.json()["responses"]] == [
        ("hello", "Hi Dana, I am Bob."),
        ("order", "Order A-17"),
    ]


def test_a_canned_response_with_an_unknown_placeholder_is_refused_in_the_console(
    client, owner, tenant
):
    client.force_login(owner)

    response = client.post(
        "/admin/routing/cannedresponse/add/",
        {"shortcut": "bad", "title": "Bad", "text": "Hi {{customer.email}}", "team": ""},
    )

    assert response.status_code == 200 and "Unknown placeholders" in response.content.decode()
    assert not CannedResponse.objects.exists()

    client.post(
        "/admin/routing/cannedresponse/add/",
        {"shortcut": "hi", "title": "Hi", "text": "Hi {{customer.name}}", "team": ""},
    )
    duplicate = client.post(
        "/admin/routing/cannedresponse/add/",
        {"shortcut": "hi", "title": "Again", "text": "Hi", "team": ""},
    )
    assert "is taken" in duplicate.content.decode()
    assert CannedResponse.objects.get().tenant == tenant


def test_variables_show_their_labels_and_values_in_the_agents_locale_and_zone(
    client, tenant, agent, served
):
    GlobalVariable.objects.create(
        tenant=tenant, name="due", label="Callback due", type="datetime", agent_visible=True
    )
    GlobalVariable.objects.create(
        tenant=tenant,
        name="balance",
        label="Open balance",
        type="number",
        default=1234.5,
        agent_visible=True,
    )
    GlobalVariable.objects.create(
        tenant=tenant, name="vip", type="boolean", default=True, agent_visible=True
    )
    TenantPolicy.objects.update_or_create(tenant=tenant, defaults={"time_zone": "Europe/Berlin"})
    agent.locale = "de_DE"
    agent.save(update_fields=["locale"])
    client.force_login(agent.user)

    html = client.get(f"/desktop/conversations/{served.pk}/").content.decode()

    assert "Callback due" in html and "Open balance" in html
    assert "26.11.2026, 16:30:00" in html  # 15:30 UTC in Berlin, written the German way
    assert "1.234,5" in html
    assert "<output>Yes</output>" in html


def test_the_agents_own_time_zone_wins_over_the_tenants(client, tenant, agent, served):
    GlobalVariable.objects.create(
        tenant=tenant, name="due", label="Callback due", type="datetime", agent_visible=True
    )
    TenantPolicy.objects.update_or_create(tenant=tenant, defaults={"time_zone": "Europe/Berlin"})
    agent.time_zone, agent.locale = "America/New_York", "en_US"
    agent.save(update_fields=["time_zone", "locale"])
    client.force_login(agent.user)

    html = client.get(f"/desktop/conversations/{served.pk}/").content.decode()

    assert "Nov 26, 2026, 10:30:00" in html


def test_the_channel_shows_the_templates_display_name(client, tenant, agent, served):
    template = ChannelTemplate.default_for(tenant=tenant, kind="whatsapp")
    template.label = "WhatsApp Business"
    template.save()
    client.force_login(agent.user)

    html = client.get(f"/desktop/conversations/{served.pk}/").content.decode()
    listed = client.get("/desktop/state/").json()["conversations"][0]

    assert "WhatsApp Business" in html and listed["kind_label"] == "WhatsApp Business"
    assert Customer.objects.get(pk=served.customer_id).display_name == "Dana"


def test_a_flow_variable_takes_a_label_in_its_flow_document(tenant):
    from routing.flows.definitions import problems
    from routing.flows.selectors import variable_declarations
    from tests.routing.flows.conftest import flow_doc

    document = flow_doc(
        {
            "set": {
                "type": "set_variables",
                "assignments": [{"name": "plan", "value": "basic"}],
                "next": None,
            }
        },
        variables=[
            {"name": "plan", "type": "string", "label": "Contract plan", "agent_visible": True},
            {"name": "raw", "type": "string", "agent_visible": True},
        ],
    )

    assert problems(document) == []
    declared = variable_declarations(tenant=tenant, definitions=[document])
    assert (declared["plan"]["label"], declared["raw"]["label"]) == ("Contract plan", "")
    too_long = flow_doc(
        {
            "set": {
                "type": "set_variables",
                "assignments": [{"name": "plan", "value": "basic"}],
                "next": None,
            }
        },
        variables=[{"name": "x", "type": "string", "label": "x" * 81}],
    )
    assert problems(too_long)
