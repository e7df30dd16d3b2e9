"""Requests that used to end in a 500 answer a 4xx with a reason: duplicate names, deleting what
is still in use, ids that cannot exist, values of the wrong type."""

import pytest

from channels_app.models import ChannelAsset
from routing.models import Skill
from routing.services import task_enqueue
from tests.routing.factories import make_asset, make_conversation, make_queue, make_skill

ASSETS = "/api/v1/channel-assets/"


def sms_asset(name: str, number: str) -> dict:
    return {
        "kind": "sms",
        "name": name,
        "sms_number": number,
        "sms_number_type": "long",
        "sms_account_sid": "AC" + "0" * 32,
        "auth_token": "secret",
    }


SKILLS = "/api/v1/routing/skills/"


def test_a_second_asset_with_the_same_name_is_a_400_on_the_name(api_as, owner, tenant):
    make_asset(tenant=tenant, kind="sms", name="Hotline")

    response = api_as(owner).post(ASSETS, sms_asset("Hotline", "+4915112340001"), format="json")

    assert response.status_code == 400
    assert response.json()["name"] == [
        "A channel asset with this name already exists in this tenant."
    ]
    assert ChannelAsset.objects.filter(name="Hotline").count() == 1


def test_a_second_wrap_up_code_with_the_same_name_is_a_400_on_the_name(api_as, owner, tenant):
    first = api_as(owner).post("/api/v1/wrap-up-codes/", {"name": "Resolved"}, format="json")
    assert first.status_code == 201, first.json()

    response = api_as(owner).post("/api/v1/wrap-up-codes/", {"name": "Resolved"}, format="json")

    assert response.status_code == 400
    assert "already exists" in response.json()["name"][0]


def test_renaming_a_skill_to_a_taken_name_is_a_400_on_the_name(api_as, owner, tenant):
    make_skill(tenant=tenant, name="German", type="boolean")
    french = make_skill(tenant=tenant, name="French", type="boolean")

    response = api_as(owner).patch(f"{SKILLS}{french.pk}/", {"name": "German"}, format="json")

    assert response.status_code == 400 and "name" in response.json()
    french.refresh_from_db()
    assert french.name == "French"


def test_the_same_name_in_another_tenant_is_fine(api_as, owner, outsider, other_tenant):
    make_asset(tenant=other_tenant, kind="sms", name="Hotline")

    response = api_as(owner).post(ASSETS, sms_asset("Hotline", "+4915112340001"), format="json")

    assert response.status_code == 201, response.json()


def test_deleting_an_asset_with_conversations_is_a_409_naming_them(api_as, owner, tenant):
    asset = make_asset(tenant=tenant, kind="chat", name="Website chat")
    make_conversation(tenant=tenant, asset=asset)
    make_conversation(tenant=tenant, asset=asset)

    response = api_as(owner).delete(f"{ASSETS}{asset.pk}/")

    assert response.status_code == 409
    assert "2 conversations" in response.json()["detail"]
    assert ChannelAsset.objects.filter(pk=asset.pk).exists()


def test_deleting_an_unused_asset_still_works(api_as, owner, tenant):
    asset = make_asset(tenant=tenant, kind="chat")

    assert api_as(owner).delete(f"{ASSETS}{asset.pk}/").status_code == 204
    assert not ChannelAsset.objects.filter(pk=asset.pk).exists()


def test_the_outsider_cannot_delete_an_asset_and_gets_404(api_as, outsider, tenant):
    asset = make_asset(tenant=tenant, kind="chat")

    assert api_as(outsider).delete(f"{ASSETS}{asset.pk}/").status_code == 404
    assert ChannelAsset.objects.filter(pk=asset.pk).exists()


@pytest.mark.parametrize("task_id", ["abc", "1.5", "-1", "０１"])
def test_a_non_numeric_id_in_a_custom_action_is_a_404(api_as, owner, task_id):
    response = api_as(owner).post(f"/api/v1/routing/tasks/{task_id}/close/", {}, format="json")

    assert response.status_code == 404


def test_the_outsider_closing_a_task_of_another_tenant_gets_404(api_as, outsider, tenant, team):
    queue = make_queue(tenant=tenant, teams=[team])
    task = task_enqueue(conversation=make_conversation(tenant=tenant), queue=queue)

    response = api_as(outsider).post(f"/api/v1/routing/tasks/{task.pk}/close/", {}, format="json")

    assert response.status_code == 404


@pytest.mark.parametrize("enum_values", [None, "de", {"de": 1}, [{"de": 1}], [["de"]], 5], ids=repr)
def test_enum_values_of_the_wrong_type_are_a_400(api_as, owner, tenant, enum_values):
    skill = make_skill(tenant=tenant, name="Language", type="enum", enum_values=["de", "en"])

    response = api_as(owner).patch(
        f"{SKILLS}{skill.pk}/", {"enum_values": enum_values}, format="json"
    )

    assert response.status_code == 400 and "enum_values" in response.json()
    assert Skill.objects.get(pk=skill.pk).enum_values == ["de", "en"]


def test_creating_an_enum_skill_with_null_values_is_a_400(api_as, owner):
    response = api_as(owner).post(
        SKILLS, {"name": "Tier", "type": "enum", "enum_values": None}, format="json"
    )

    assert response.status_code == 400 and "enum_values" in response.json()
