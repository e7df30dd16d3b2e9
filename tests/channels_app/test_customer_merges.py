"""Merging two records of one person, the audit of it, and undoing it exactly."""

import pytest
from django.core.exceptions import ValidationError

from channels_app.models import Conversation, Customer, CustomerIdentity, CustomerMerge
from channels_app.services.customers import customer_merge, customer_merge_undo
from tests.routing.factories import make_conversation


@pytest.fixture
def two_records(tenant):
    """Dana wrote on WhatsApp and, as another record, by email (two conversations there)."""
    on_whatsapp = make_conversation(tenant=tenant, kind="whatsapp", customer_name="Dana", text="Hi")
    by_mail = make_conversation(tenant=tenant, kind="email", customer_name="D. K.", text="Hello")
    survivor, other = on_whatsapp.customer, by_mail.customer
    other.notes, other.tags = "Prefers email", ["vip"]
    other.save(update_fields=["notes", "tags"])
    survivor.tags = ["returning"]
    survivor.save(update_fields=["tags"])
    older_mail = Conversation.objects.create(
        tenant=tenant,
        asset=by_mail.asset,
        customer=other,
        identity=by_mail.identity,
        kind="email",
        status="closed",
    )
    return survivor, other, [by_mail.pk, older_mail.pk]


def test_a_merge_moves_identities_and_conversations_and_is_audited(two_records, owner):
    survivor, other, moved = two_records

    merge = customer_merge(survivor=survivor, merged=other, by=owner)

    assert set(Conversation.objects.filter(customer=survivor).values_list("pk", flat=True)) >= set(
        moved
    )
    assert not Conversation.objects.filter(customer=other).exists()
    assert set(
        CustomerIdentity.objects.filter(customer=survivor).values_list("kind", flat=True)
    ) == {
        "whatsapp",
        "email",
    }
    survivor.refresh_from_db()
    other.refresh_from_db()
    assert survivor.display_name == "Dana" and survivor.tags == ["returning", "vip"]
    assert survivor.notes == "Prefers email"
    assert other.merged_into == survivor
    audit = CustomerMerge.objects.get()
    assert (audit.by, audit.survivor, audit.merged) == (owner, survivor, other)
    assert sorted(audit.conversation_ids) == sorted(moved) and len(audit.identity_ids) == 1
    assert merge == audit


def test_undo_restores_exactly_what_moved(two_records, owner, supervisor):
    survivor, other, moved = two_records
    before = {
        "survivor": set(
            Conversation.objects.filter(customer=survivor).values_list("pk", flat=True)
        ),
        "other": set(Conversation.objects.filter(customer=other).values_list("pk", flat=True)),
        "identities": set(
            CustomerIdentity.objects.filter(customer=other).values_list("pk", flat=True)
        ),
    }
    merge = customer_merge(survivor=survivor, merged=other, by=owner)

    customer_merge_undo(merge=merge, by=supervisor)

    assert (
        set(Conversation.objects.filter(customer=survivor).values_list("pk", flat=True))
        == (before["survivor"])
    )
    assert (
        set(Conversation.objects.filter(customer=other).values_list("pk", flat=True))
        == (before["other"])
    )
    assert (
        set(CustomerIdentity.objects.filter(customer=other).values_list("pk", flat=True))
        == (before["identities"])
    )
    survivor.refresh_from_db()
    other.refresh_from_db()
    assert (survivor.tags, survivor.notes) == (["returning"], "")
    assert other.merged_into is None
    merge.refresh_from_db()
    assert merge.undone_by == supervisor and merge.undone_at is not None
    with pytest.raises(ValidationError, match="already undone"):
        customer_merge_undo(merge=merge, by=owner)


def test_customers_of_two_tenants_are_never_merged(tenant, other_tenant, owner):
    ours = make_conversation(tenant=tenant, customer_name="Dana").customer
    theirs = make_conversation(tenant=other_tenant, customer_name="Olga").customer

    with pytest.raises(ValidationError, match="different tenants"):
        customer_merge(survivor=ours, merged=theirs, by=owner)

    assert not CustomerMerge.objects.exists()
    assert Conversation.objects.get(customer=theirs).tenant == other_tenant


def test_a_record_already_merged_is_not_merged_again(two_records, tenant, owner):
    survivor, other, _ = two_records
    customer_merge(survivor=survivor, merged=other, by=owner)
    third = make_conversation(tenant=tenant, customer_name="Third").customer

    with pytest.raises(ValidationError, match="already merged"):
        customer_merge(survivor=third, merged=other, by=owner)
    with pytest.raises(ValidationError, match="itself"):
        customer_merge(survivor=third, merged=third, by=owner)


def test_the_console_merges_two_selected_customers_and_undoes_it(client, owner, two_records):
    survivor, other, moved = two_records
    client.force_login(owner)

    response = client.post(
        "/admin/channels_app/customer/",
        {"action": "merge", "_selected_action": [survivor.pk, other.pk]},
        follow=True,
    )

    assert response.status_code == 200 and "moved" in response.content.decode()
    merge = CustomerMerge.objects.get()
    assert merge.by == owner and merge.survivor == survivor
    listing = client.get("/admin/channels_app/customermerge/")
    assert listing.status_code == 200 and str(merge) in listing.content.decode()

    client.post(
        "/admin/channels_app/customermerge/",
        {"action": "undo", "_selected_action": [merge.pk]},
        follow=True,
    )

    merge.refresh_from_db()
    assert merge.undone_by == owner
    assert set(Conversation.objects.filter(customer=other).values_list("pk", flat=True)) == set(
        moved
    )


def test_the_console_refuses_a_merge_of_other_than_two(client, owner, two_records, tenant):
    survivor, other, _ = two_records
    third = make_conversation(tenant=tenant, customer_name="Third").customer
    client.force_login(owner)

    response = client.post(
        "/admin/channels_app/customer/",
        {"action": "merge", "_selected_action": [survivor.pk, other.pk, third.pk]},
        follow=True,
    )

    assert "exactly two" in response.content.decode()
    assert not CustomerMerge.objects.exists()


def test_the_outsider_sees_no_merge_and_cannot_merge_our_customers(client, outsider, two_records):
    survivor, other, _ = two_records
    customer_merge(survivor=survivor, merged=other, by=None)
    client.force_login(outsider)

    listing = client.get("/admin/channels_app/customermerge/")
    client.post(
        "/admin/channels_app/customer/",
        {"action": "merge", "_selected_action": [survivor.pk, other.pk]},
    )
    undo = client.post(
        "/admin/channels_app/customermerge/",
        {"action": "undo", "_selected_action": [CustomerMerge.objects.get().pk]},
    )

    assert listing.status_code == 200
    assert str(CustomerMerge.objects.get()) not in listing.content.decode()
    assert undo.status_code in (200, 302)
    assert CustomerMerge.objects.count() == 1 and CustomerMerge.objects.get().undone_at is None
    assert Customer.objects.get(pk=other.pk).merged_into_id == survivor.pk
