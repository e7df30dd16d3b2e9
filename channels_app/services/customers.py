"""Customer profiles: edits by agents and admins, and merging two records of one person.

A merge moves the other record's identities and conversations to the survivor and keeps the
emptied record (marked merged_into), so an undo can put back exactly what moved."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from channels_app.models import Conversation, Customer, CustomerIdentity, CustomerMerge
from tenants.models import User

MAX_NAME = 200
MAX_NOTES = 4000
MAX_TAGS = 20
MAX_TAG = 40


def _clean_tags(tags) -> list[str]:
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ValidationError({"tags": "tags are a list of words"})
    cleaned: list[str] = []
    for tag in tags:
        tag = " ".join(tag.split())
        if not tag:
            continue
        if len(tag) > MAX_TAG:
            raise ValidationError({"tags": f"a tag is at most {MAX_TAG} characters"})
        if tag.lower() not in (t.lower() for t in cleaned):
            cleaned.append(tag)
    if len(cleaned) > MAX_TAGS:
        raise ValidationError({"tags": f"at most {MAX_TAGS} tags"})
    return cleaned


def customer_profile_update(
    *,
    customer: Customer,
    display_name: str | None = None,
    notes: str | None = None,
    tags: list[str] | None = None,
) -> Customer:
    """Changes what was given. A name given here is the customer's name from now on: a provider's
    profile name on a later message no longer replaces it."""
    fields: list[str] = []
    if display_name is not None:
        if not isinstance(display_name, str):
            raise ValidationError({"display_name": "the name is text"})
        display_name = " ".join(display_name.split())
        if len(display_name) > MAX_NAME:
            raise ValidationError({"display_name": f"a name is at most {MAX_NAME} characters"})
        customer.display_name, customer.name_set_by_agent = display_name, True
        fields += ["display_name", "name_set_by_agent"]
    if notes is not None:
        if not isinstance(notes, str):
            raise ValidationError({"notes": "notes are text"})
        if len(notes) > MAX_NOTES:
            raise ValidationError({"notes": f"notes are at most {MAX_NOTES} characters"})
        customer.notes = notes.strip()
        fields.append("notes")
    if tags is not None:
        customer.tags = _clean_tags(tags)
        fields.append("tags")
    if fields:
        customer.save(update_fields=fields)
    return customer


def _profile(customer: Customer) -> dict:
    return {
        "display_name": customer.display_name,
        "name_set_by_agent": customer.name_set_by_agent,
        "notes": customer.notes,
        "tags": list(customer.tags or []),
    }


@transaction.atomic
def customer_merge(*, survivor: Customer, merged: Customer, by: User | None) -> CustomerMerge:
    """Moves `merged`'s identities and conversations to `survivor` and records what moved.

    Both records must be live customers of one tenant. The survivor keeps its name (or takes the
    other's when it has none); notes are appended and tags joined."""
    if survivor.tenant_id != merged.tenant_id:
        raise ValidationError("Customers of different tenants are never merged.")
    if survivor.pk == merged.pk:
        raise ValidationError("A customer cannot be merged with itself.")
    locked = {
        c.pk: c
        for c in Customer.objects.select_for_update()
        .filter(pk__in=[survivor.pk, merged.pk])
        .order_by("pk")
    }
    survivor, merged = locked[survivor.pk], locked[merged.pk]
    if survivor.merged_into_id or merged.merged_into_id:
        raise ValidationError("One of these records was already merged into another.")
    before = _profile(survivor)
    identity_ids = list(
        CustomerIdentity.objects.filter(customer=merged).order_by("pk").values_list("pk", flat=True)
    )
    conversation_ids = list(
        Conversation.objects.filter(customer=merged).order_by("pk").values_list("pk", flat=True)
    )
    CustomerIdentity.objects.filter(pk__in=identity_ids).update(customer=survivor)
    Conversation.objects.filter(pk__in=conversation_ids).update(customer=survivor)
    if not survivor.display_name and merged.display_name:
        survivor.display_name = merged.display_name
        survivor.name_set_by_agent = merged.name_set_by_agent
    if merged.notes:
        survivor.notes = f"{survivor.notes}\n\n{merged.notes}".strip()
    survivor.tags = _clean_tags(list(survivor.tags or []) + list(merged.tags or []))[:MAX_TAGS]
    survivor.save(update_fields=["display_name", "name_set_by_agent", "notes", "tags"])
    merged.merged_into = survivor
    merged.save(update_fields=["merged_into"])
    return CustomerMerge.objects.create(
        tenant_id=survivor.tenant_id,
        survivor=survivor,
        merged=merged,
        by=by,
        identity_ids=identity_ids,
        conversation_ids=conversation_ids,
        survivor_before=before,
    )


@transaction.atomic
def customer_merge_undo(*, merge: CustomerMerge, by: User | None) -> CustomerMerge:
    """Puts back what the merge moved: the identities, their conversations (also those opened on
    them since) and the survivor's profile as it was before."""
    merge = CustomerMerge.objects.select_for_update().get(pk=merge.pk)
    if merge.undone_at is not None:
        raise ValidationError("This merge was already undone.")
    locked = {
        c.pk: c
        for c in Customer.objects.select_for_update()
        .filter(pk__in=[merge.survivor_id, merge.merged_id])
        .order_by("pk")
    }
    survivor, merged = locked[merge.survivor_id], locked[merge.merged_id]
    if survivor.merged_into_id is not None:
        raise ValidationError(
            "The surviving record was merged into another since: undo that merge first."
        )
    if merged.merged_into_id != survivor.pk:
        raise ValidationError("The merged record is no longer part of this merge.")
    CustomerIdentity.objects.filter(pk__in=merge.identity_ids, customer=survivor).update(
        customer=merged
    )
    Conversation.objects.filter(customer=survivor).filter(pk__in=merge.conversation_ids).update(
        customer=merged
    )
    Conversation.objects.filter(customer=survivor, identity_id__in=merge.identity_ids).update(
        customer=merged
    )
    for field, value in merge.survivor_before.items():
        setattr(survivor, field, value)
    survivor.save(update_fields=list(merge.survivor_before))
    merged.merged_into = None
    merged.save(update_fields=["merged_into"])
    merge.undone_at, merge.undone_by = timezone.now(), by
    merge.save(update_fields=["undone_at", "undone_by"])
    return merge
