"""The desktop's customer panel: the profile of the customer being served, their earlier
conversations on every channel, linking another record of them, and undoing that."""

import json

import pytest

from channels_app.models import Conversation, Customer, CustomerIdentity, CustomerMerge, Message
from tests.routing.factories import make_agent, make_conversation, make_team


@pytest.fixture
def served(tenant, agent):
    """bob serves Dana on WhatsApp; she wrote by email before (a closed conversation)."""
    conversation = make_conversation(
        tenant=tenant, kind="whatsapp", customer_name="Dana", text="Hi"
    )
    conversation.owner = agent
    conversation.save(update_fields=["owner"])
    earlier = make_conversation(tenant=tenant, kind="email", customer_name="x", text="Old question")
    CustomerIdentity.objects.filter(pk=earlier.identity_id).update(customer=conversation.customer)
    Conversation.objects.filter(pk=earlier.pk).update(
        customer=conversation.customer, status="closed"
    )
    return conversation, Conversation.objects.get(pk=earlier.pk)


def _post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def test_the_panel_shows_addresses_and_earlier_conversations(client, agent, served):
    conversation, earlier = served
    client.force_login(agent.user)

    html = client.get(f"/desktop/conversations/{conversation.pk}/customer/").content.decode()

    assert 'value="Dana"' in html
    assert conversation.identity.address in html and earlier.identity.address in html
    assert f"/customer/history/{earlier.pk}/" in html
    assert "1 message" in html and "this conversation" in html


def test_an_earlier_transcript_opens_read_only(client, agent, served):
    conversation, earlier = served
    client.force_login(agent.user)

    response = client.get(
        f"/desktop/conversations/{conversation.pk}/customer/history/{earlier.pk}/"
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Old question" in html and "<form" not in html


def test_another_customers_conversation_is_not_in_the_history(client, agent, served, tenant):
    conversation, _ = served
    stranger = make_conversation(tenant=tenant, kind="chat", customer_name="Eve", text="secret")
    client.force_login(agent.user)

    response = client.get(
        f"/desktop/conversations/{conversation.pk}/customer/history/{stranger.pk}/"
    )

    assert response.status_code == 404


def test_the_profile_is_saved_and_kept_as_the_agents_name(client, agent, served):
    conversation, _ = served
    client.force_login(agent.user)

    response = _post(
        client,
        f"/desktop/conversations/{conversation.pk}/customer/profile/",
        {"display_name": "Dana  Kunde", "notes": "Calls after 5", "tags": ["vip", "VIP", " b2b "]},
    )

    assert response.status_code == 200
    customer = Customer.objects.get(pk=conversation.customer_id)
    assert customer.display_name == "Dana Kunde" and customer.name_set_by_agent
    assert customer.notes == "Calls after 5" and customer.tags == ["vip", "b2b"]


@pytest.mark.parametrize(
    "body, reason",
    [
        ({"tags": "vip"}, "list"),
        ({"display_name": "x" * 201}, "at most 200"),
        ({"owner": 1}, "unknown fields"),
        ([1, 2], "JSON object"),
    ],
)
def test_a_malformed_profile_edit_is_refused_and_changes_nothing(
    client, agent, served, body, reason
):
    conversation, _ = served
    client.force_login(agent.user)

    response = _post(client, f"/desktop/conversations/{conversation.pk}/customer/profile/", body)

    assert response.status_code == 400 and reason in response.json()["error"]
    customer = Customer.objects.get(pk=conversation.customer_id)
    assert (customer.display_name, customer.tags, customer.name_set_by_agent) == ("Dana", [], False)


def test_another_agent_and_the_outsider_get_nothing(client, tenant, served, outsider):
    conversation, earlier = served
    colleague = make_agent(tenant=tenant, team=make_team(tenant=tenant))
    urls = [
        f"/desktop/conversations/{conversation.pk}/customer/",
        f"/desktop/conversations/{conversation.pk}/customer/history/{earlier.pk}/",
        f"/desktop/conversations/{conversation.pk}/canned/",
    ]
    for user in (colleague.user, outsider):
        client.force_login(user)
        for url in urls:
            assert client.get(url).status_code == 404, (user, url)
        response = _post(
            client,
            f"/desktop/conversations/{conversation.pk}/customer/profile/",
            {"display_name": "Hijacked"},
        )
        assert response.status_code == 404
        link = _post(
            client,
            f"/desktop/conversations/{conversation.pk}/customer/link/",
            {"address": earlier.identity.address},
        )
        assert link.status_code == 404
    assert Customer.objects.get(pk=conversation.customer_id).display_name == "Dana"


def test_an_agent_links_another_record_by_its_address_and_undoes_it(client, agent, served, tenant):
    conversation, _ = served
    other = make_conversation(tenant=tenant, kind="sms", customer_name="+4915199", text="SMS hi")
    client.force_login(agent.user)

    response = _post(
        client,
        f"/desktop/conversations/{conversation.pk}/customer/link/",
        {"address": other.identity.address, "kind": "sms"},
    )

    assert response.status_code == 201
    assert response.json() == {
        "merge_id": CustomerMerge.objects.get().pk,
        "identities": 1,
        "conversations": 1,
    }
    other.refresh_from_db()
    assert other.customer_id == conversation.customer_id
    html = client.get(f"/desktop/conversations/{conversation.pk}/customer/").content.decode()
    assert f"/customer/history/{other.pk}/" in html and "merge-undo" in html
    merge = CustomerMerge.objects.get()
    assert merge.by == agent.user

    undo = client.post(f"/desktop/conversations/{conversation.pk}/customer/link/{merge.pk}/undo/")

    assert undo.status_code == 200
    other.refresh_from_db()
    assert other.customer_id != conversation.customer_id
    again = client.post(f"/desktop/conversations/{conversation.pk}/customer/link/{merge.pk}/undo/")
    assert again.status_code == 400 and "already undone" in again.json()["error"]


def test_an_address_of_another_tenant_links_nothing(client, agent, served, other_tenant):
    conversation, _ = served
    theirs = make_conversation(tenant=other_tenant, kind="sms", customer_name="Olga")
    client.force_login(agent.user)

    response = _post(
        client,
        f"/desktop/conversations/{conversation.pk}/customer/link/",
        {"address": theirs.identity.address},
    )

    assert response.status_code == 404
    assert not CustomerMerge.objects.exists()
    theirs.refresh_from_db()
    assert theirs.customer.tenant == other_tenant


def test_a_merge_of_another_customer_cannot_be_undone_from_this_conversation(
    client, agent, served, tenant
):
    from channels_app.services.customers import customer_merge

    conversation, _ = served
    a = make_conversation(tenant=tenant, customer_name="A").customer
    b = make_conversation(tenant=tenant, customer_name="B").customer
    merge = customer_merge(survivor=a, merged=b, by=None)
    client.force_login(agent.user)

    response = client.post(
        f"/desktop/conversations/{conversation.pk}/customer/link/{merge.pk}/undo/"
    )

    assert response.status_code == 404
    merge.refresh_from_db()
    assert merge.undone_at is None


def test_the_list_previews_the_customers_last_message_and_their_wait(client, agent, served):
    from django.utils import timezone

    conversation, _ = served
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now())
    Message.objects.create(
        tenant=conversation.tenant,
        conversation=conversation,
        asset=conversation.asset,
        direction="out",
        author_kind="bot",
        text="An agent will be with you shortly",
        status="sent",
    )
    client.force_login(agent.user)

    listed = client.get("/desktop/state/").json()["conversations"][0]

    assert listed["preview"] == "Hi"
    assert listed["waiting_since"] is not None
    assert listed["kind_label"] == "WhatsApp"

    Message.objects.create(
        tenant=conversation.tenant,
        conversation=conversation,
        asset=conversation.asset,
        direction="out",
        author_kind="agent",
        text="Hello Dana",
        status="sent",
    )
    assert client.get("/desktop/state/").json()["conversations"][0]["waiting_since"] is None


def test_a_phone_number_is_found_with_or_without_its_plus(client, agent, served, tenant):
    conversation, _ = served
    other = make_conversation(tenant=tenant, kind="whatsapp", customer_name="Dana (phone)")
    CustomerIdentity.objects.filter(pk=other.identity_id).update(address="4915100000123")
    client.force_login(agent.user)

    response = _post(
        client,
        f"/desktop/conversations/{conversation.pk}/customer/link/",
        {"address": "+49 151 00000123"},
    )

    assert response.status_code == 201
    other.refresh_from_db()
    assert other.customer_id == conversation.customer_id


@pytest.mark.parametrize(
    "body, status",
    [({"address": ""}, 400), ({"address": 5}, 400), ({"address": "x", "kind": "fax"}, 400)],
)
def test_a_malformed_link_request_is_refused(client, agent, served, body, status):
    conversation, _ = served
    client.force_login(agent.user)

    response = _post(client, f"/desktop/conversations/{conversation.pk}/customer/link/", body)

    assert response.status_code == status and response.json()["error"]
    assert not CustomerMerge.objects.exists()
