import pytest
from django.core.exceptions import ValidationError

from routing.models import AgentSkill, AgentSkillProfile, AgentState, Offer, SkillProfile
from routing.services import (
    agent_skill_profile_set,
    agent_state_ensure,
    agent_state_set,
    skill_profile_value_set,
    task_enqueue,
    team_skill_profile_set,
)
from routing.services.router import eligible_agents
from routing.services.skills import requirements_resolve, skill_value_clean
from tests.routing.factories import (
    give_skills,
    make_agent,
    make_conversation,
    make_queue,
    make_skill,
    make_team,
)


@pytest.fixture
def skills(tenant):
    return {
        "Tech": make_skill(tenant=tenant, name="Tech", type="proficiency"),
        "Spanish": make_skill(tenant=tenant, name="Spanish", type="boolean"),
        "Region": make_skill(tenant=tenant, name="Region", type="text"),
        "Tier": make_skill(
            tenant=tenant, name="Tier", type="enum", enum_values=["gold", "silver", "bronze"]
        ),
    }


@pytest.mark.parametrize(
    ("skill", "value", "message"),
    [
        ("Tech", 11, "not between 0 and 10"),
        ("Tech", -1, "not between 0 and 10"),
        ("Tech", "expert", "whole number from 0 to 10"),
        ("Tech", True, "whole number from 0 to 10"),
        ("Spanish", "si", "give true or false"),
        ("Spanish", 1, "give true or false"),
        ("Region", "", "non-empty text"),
        ("Region", 5, "non-empty text"),
        ("Tier", "platinum", "choose one of: gold, silver, bronze"),
    ],
)
def test_invalid_skill_values_are_rejected_with_a_clear_error(skills, skill, value, message):
    with pytest.raises(ValidationError, match=message):
        skill_value_clean(skill=skills[skill], value=value)


@pytest.mark.parametrize(
    ("skill", "value", "clean"),
    [
        ("Tech", 0, 0),
        ("Tech", 10, 10),
        ("Tech", "7", 7),
        ("Spanish", True, True),
        ("Spanish", "false", False),
        ("Region", "EMEA", "EMEA"),
        ("Tier", "gold", "gold"),
    ],
)
def test_valid_skill_values_are_kept_in_their_type(skills, skill, value, clean):
    assert skill_value_clean(skill=skills[skill], value=value) == clean


def test_an_invalid_profile_value_leaves_the_profile_unchanged(tenant, skills):
    profile = SkillProfile.objects.create(tenant=tenant, name="P")
    skill_profile_value_set(profile=profile, skill=skills["Tech"], value=5)
    with pytest.raises(ValidationError):
        skill_profile_value_set(profile=profile, skill=skills["Tech"], value=42)
    assert profile.values.get().int_value == 5


@pytest.mark.parametrize(
    ("requirements", "message"),
    [
        ([{"skill": "Klingon", "operator": "=", "value": True}], "no skill named 'Klingon'"),
        ([{"skill": "Tech", "operator": ">", "value": 3}], "operator '>' does not apply"),
        ([{"skill": "Region", "operator": ">=", "value": "EMEA"}], "operator '>=' does not apply"),
        ([{"skill": "Tier", "operator": "in", "value": "gold"}], "takes a non-empty list"),
        ([{"skill": "Tier", "operator": "=", "value": "platinum"}], "not a value of Tier"),
        (
            [
                {"skill": "Tech", "operator": ">=", "value": 3},
                {"skill": "Tech", "operator": "=", "value": 3},
            ],
            "required twice",
        ),
        ([{"operator": "=", "value": 1}], "needs a skill name"),
    ],
)
def test_invalid_requirements_are_rejected_with_a_clear_error(
    tenant, skills, requirements, message
):
    with pytest.raises(ValidationError, match=message):
        requirements_resolve(tenant=tenant, requirements=requirements)


# Agent values and requirement -> matches?
CASES = [
    ({"Tech": 5}, {"skill": "Tech", "operator": ">=", "value": 5}, True),
    ({"Tech": 4}, {"skill": "Tech", "operator": ">=", "value": 5}, False),
    ({"Tech": 5}, {"skill": "Tech", "operator": "=", "value": 5}, True),
    ({"Tech": 6}, {"skill": "Tech", "operator": "=", "value": 5}, False),
    ({"Tech": 6}, {"skill": "Tech", "operator": "!=", "value": 5}, True),
    ({"Tech": 5}, {"skill": "Tech", "operator": "!=", "value": 5}, False),
    ({"Tech": 3}, {"skill": "Tech", "operator": "in", "value": [3, 8]}, True),
    ({"Tech": 4}, {"skill": "Tech", "operator": "in", "value": [3, 8]}, False),
    ({}, {"skill": "Tech", "operator": ">=", "value": 0}, False),
    ({"Spanish": True}, {"skill": "Spanish", "operator": "is", "value": True}, True),
    ({"Spanish": False}, {"skill": "Spanish", "operator": "is", "value": True}, False),
    ({}, {"skill": "Spanish", "operator": "is", "value": True}, False),
    ({"Spanish": False}, {"skill": "Spanish", "operator": "is", "value": False}, True),
    ({}, {"skill": "Spanish", "operator": "is", "value": False}, True),
    ({"Spanish": True}, {"skill": "Spanish", "operator": "=", "value": False}, False),
    ({"Spanish": True}, {"skill": "Spanish", "operator": "!=", "value": False}, True),
    ({"Region": "EMEA"}, {"skill": "Region", "operator": "=", "value": "EMEA"}, True),
    ({"Region": "emea"}, {"skill": "Region", "operator": "=", "value": "EMEA"}, False),
    ({"Region": "APAC"}, {"skill": "Region", "operator": "!=", "value": "EMEA"}, True),
    ({}, {"skill": "Region", "operator": "!=", "value": "EMEA"}, True),
    ({"Region": "APAC"}, {"skill": "Region", "operator": "in", "value": ["EMEA", "APAC"]}, True),
    ({"Tier": "gold"}, {"skill": "Tier", "operator": "=", "value": "gold"}, True),
    ({"Tier": "silver"}, {"skill": "Tier", "operator": "=", "value": "gold"}, False),
    ({"Tier": "silver"}, {"skill": "Tier", "operator": "in", "value": ["gold", "silver"]}, True),
    ({"Tier": "bronze"}, {"skill": "Tier", "operator": "in", "value": ["gold", "silver"]}, False),
    ({"Tier": "bronze"}, {"skill": "Tier", "operator": "!=", "value": "gold"}, True),
]


@pytest.mark.parametrize(("values", "requirement", "matches"), CASES)
def test_each_skill_type_and_operator_is_evaluated_in_sql(
    tenant, skills, values, requirement, matches
):
    team = make_team(tenant=tenant)
    queue = make_queue(tenant=tenant, teams=[team])
    agent = make_agent(tenant=tenant, team=team)
    give_skills(agent, **values)
    agent_state_ensure(agent=agent)
    AgentState.objects.filter(pk=agent.pk).update(state="available")
    resolved = requirements_resolve(tenant=tenant, requirements=[requirement])
    eligible = eligible_agents(
        queue=queue, team_ids=[team.pk], channel_type="chat", requirements=resolved
    )
    assert eligible.filter(agent=agent).exists() is matches


@pytest.mark.django_db(transaction=True)
def test_the_router_offers_only_to_agents_meeting_the_requirements(
    tenant, skills, chat_queue, chat_team
):
    fluent = make_agent(tenant=tenant, team=chat_team)
    give_skills(fluent, Spanish=True, Tier="gold")
    other = make_agent(tenant=tenant, team=chat_team)
    give_skills(other, Spanish=False, Tier="gold")
    agent_state_set(agent=other, state="available")
    agent_state_set(agent=fluent, state="available")
    task = task_enqueue(
        conversation=make_conversation(tenant=tenant),
        queue=chat_queue,
        requirements=[
            {"skill": "Spanish", "operator": "is", "value": True},
            {"skill": "Tier", "operator": "in", "value": ["gold", "silver"]},
        ],
    )
    assert Offer.objects.get(task=task).agent == fluent


def test_an_agents_own_profile_wins_over_the_teams_skill_by_skill(tenant, skills):
    chat_team = make_team(tenant=tenant)
    agent = make_agent(tenant=tenant, team=chat_team)
    team_profile = SkillProfile.objects.create(tenant=tenant, name="Team profile")
    skill_profile_value_set(profile=team_profile, skill=skills["Tech"], value=3)
    skill_profile_value_set(profile=team_profile, skill=skills["Region"], value="EMEA")
    team_skill_profile_set(team=chat_team, profile=team_profile)
    own = SkillProfile.objects.create(tenant=tenant, name="Own profile")
    skill_profile_value_set(profile=own, skill=skills["Tech"], value=9)
    agent_skill_profile_set(agent=agent, profile=own)

    effective = {
        row.skill.name: (row.value, row.source) for row in AgentSkill.objects.filter(agent=agent)
    }
    assert effective == {"Tech": (9, "agent"), "Region": ("EMEA", "team")}

    # Changing the team's profile reaches its agents; the agent's own value still wins.
    skill_profile_value_set(profile=team_profile, skill=skills["Tech"], value=1)
    skill_profile_value_set(profile=team_profile, skill=skills["Spanish"], value=True)
    effective = {row.skill.name: row.value for row in AgentSkill.objects.filter(agent=agent)}
    assert effective == {"Tech": 9, "Region": "EMEA", "Spanish": True}


def test_an_agent_has_exactly_one_skill_profile(tenant, skills):
    chat_team = make_team(tenant=tenant)
    agent = make_agent(tenant=tenant, team=chat_team)
    first = SkillProfile.objects.create(tenant=tenant, name="First")
    second = SkillProfile.objects.create(tenant=tenant, name="Second")
    agent_skill_profile_set(agent=agent, profile=first)
    agent_skill_profile_set(agent=agent, profile=second)
    assert AgentSkillProfile.objects.get(agent=agent).profile == second


def test_a_profile_of_another_tenant_cannot_be_given_to_an_agent(tenant, other_tenant, skills):
    chat_team = make_team(tenant=tenant)
    agent = make_agent(tenant=tenant, team=chat_team)
    foreign = SkillProfile.objects.create(tenant=other_tenant, name="Foreign")
    with pytest.raises(ValidationError, match="No such skill profile"):
        agent_skill_profile_set(agent=agent, profile=foreign)
