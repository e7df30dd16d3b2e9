"""Skills: value validation, requirements and relaxation steps, profiles and effective values."""

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from routing.models import (
    AgentSkill,
    AgentSkillProfile,
    Skill,
    SkillProfile,
    SkillProfileValue,
    SkillType,
    TeamSkillProfile,
)
from tenants.models import Agent, Team, Tenant

OPERATORS_BY_TYPE: dict[str, tuple[str, ...]] = {
    SkillType.PROFICIENCY: (">=", "=", "!=", "in"),
    SkillType.BOOLEAN: ("is", "=", "!="),
    SkillType.TEXT: ("=", "!=", "in"),
    SkillType.ENUM: ("=", "!=", "in"),
}
COLUMN_BY_TYPE: dict[str, str] = {
    SkillType.PROFICIENCY: "int_value",
    SkillType.BOOLEAN: "bool_value",
    SkillType.TEXT: "text_value",
    SkillType.ENUM: "text_value",
}


def skill_value_clean(*, skill: Skill, value: Any) -> Any:
    """The value in its canonical type, or a ValidationError saying what the skill accepts."""
    if skill.type == SkillType.PROFICIENCY:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and value.strip().isdigit():
                value = int(value.strip())
            else:
                raise ValidationError(
                    f"{skill.name} is a proficiency skill: give a whole number from 0 to 10."
                )
        if not 0 <= value <= 10:
            raise ValidationError(
                f"{skill.name} is a proficiency skill: {value} is not between 0 and 10."
            )
        return value
    if skill.type == SkillType.BOOLEAN:
        if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
            return value.strip().lower() == "true"
        if not isinstance(value, bool):
            raise ValidationError(f"{skill.name} is a boolean skill: give true or false.")
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{skill.name} is a {skill.type} skill: give a non-empty text.")
    if len(value) > 200:
        raise ValidationError(f"{skill.name}: a skill value has at most 200 characters.")
    if skill.type == SkillType.ENUM and value not in skill.enum_values:
        raise ValidationError(
            f"{value!r} is not a value of {skill.name}; choose one of: {', '.join(skill.enum_values)}."
        )
    return value


def _columns(skill: Skill, value: Any) -> dict[str, Any]:
    columns = {"int_value": None, "bool_value": None, "text_value": None}
    columns[COLUMN_BY_TYPE[skill.type]] = value
    return columns


def _skills_by_name(*, tenant: Tenant, names: Iterable[str]) -> dict[str, Skill]:
    return {s.name: s for s in Skill.objects.filter(tenant=tenant, name__in=set(names))}


def _requirement_clean(*, skill: Skill, operator: Any, value: Any, where: str) -> dict[str, Any]:
    allowed = OPERATORS_BY_TYPE[skill.type]
    if operator not in allowed:
        raise ValidationError(
            f"{where}: operator {operator!r} does not apply to the {skill.type} skill {skill.name}; "
            f"use one of {', '.join(allowed)}."
        )
    if skill.type == SkillType.BOOLEAN:
        flag = skill_value_clean(skill=skill, value=value)
        if operator == "!=":
            flag = not flag
        return {
            "skill_id": skill.pk,
            "skill": skill.name,
            "type": skill.type,
            "operator": "=",
            "value": flag,
        }
    if operator == "in":
        if not isinstance(value, list) or not value:
            raise ValidationError(f"{where}: the operator 'in' takes a non-empty list of values.")
        try:
            values = sorted({skill_value_clean(skill=skill, value=v) for v in value})
        except ValidationError as exc:
            raise ValidationError(f"{where}: {exc.messages[0]}") from exc
        return {
            "skill_id": skill.pk,
            "skill": skill.name,
            "type": skill.type,
            "operator": "in",
            "value": values,
        }
    try:
        clean = skill_value_clean(skill=skill, value=value)
    except ValidationError as exc:
        raise ValidationError(f"{where}: {exc.messages[0]}") from exc
    return {
        "skill_id": skill.pk,
        "skill": skill.name,
        "type": skill.type,
        "operator": operator,
        "value": clean,
    }


def requirements_resolve(*, tenant: Tenant, requirements: list[dict]) -> list[dict[str, Any]]:
    """Checks skill requirements and returns them with skill ids and typed values."""
    if not isinstance(requirements, list):
        raise ValidationError("Skill requirements must be a list.")
    for i, item in enumerate(requirements, 1):
        if not isinstance(item, dict) or not isinstance(item.get("skill"), str):
            raise ValidationError(f"Requirement {i} needs a skill name, an operator and a value.")
    skills = _skills_by_name(tenant=tenant, names=(r["skill"] for r in requirements))
    resolved: list[dict[str, Any]] = []
    seen: set[int] = set()
    for i, item in enumerate(requirements, 1):
        skill = skills.get(item["skill"])
        if skill is None:
            raise ValidationError(
                f"Requirement {i}: there is no skill named {item['skill']!r} in this tenant."
            )
        if skill.pk in seen:
            raise ValidationError(
                f"Requirement {i}: {skill.name} is required twice; combine them into one."
            )
        seen.add(skill.pk)
        if "value" not in item:
            raise ValidationError(f"Requirement {i}: {skill.name} needs a value.")
        resolved.append(
            _requirement_clean(
                skill=skill,
                operator=item.get("operator"),
                value=item["value"],
                where=f"Requirement {i}",
            )
        )
    return resolved


def relaxation_resolve(
    *, tenant: Tenant, requirements: list[dict], steps: list[dict]
) -> list[dict[str, Any]]:
    """Checks relaxation steps against the resolved requirements; returns them in time order."""
    if not isinstance(steps, list):
        raise ValidationError("Relaxation steps must be a list.")
    required = {r["skill"]: r for r in requirements}
    skills = _skills_by_name(
        tenant=tenant, names=(s.get("skill") for s in steps if isinstance(s, dict))
    )
    resolved = []
    for i, step in enumerate(steps, 1):
        where = f"Relaxation step {i}"
        if not isinstance(step, dict):
            raise ValidationError(
                f"{where} must be an object with after_seconds, skill and action."
            )
        after = step.get("after_seconds")
        if (
            isinstance(after, bool)
            or not isinstance(after, int)
            or not 0 <= after <= 30 * 24 * 3600
        ):
            raise ValidationError(
                f"{where}: after_seconds must be a whole number of seconds (0 to 30 days)."
            )
        name = step.get("skill")
        if name not in required:
            raise ValidationError(f"{where}: {name!r} is not among the task's skill requirements.")
        action = step.get("action")
        if action == "drop":
            resolved.append(
                {
                    "after_seconds": after,
                    "skill_id": required[name]["skill_id"],
                    "skill": name,
                    "action": "drop",
                }
            )
        elif action == "replace":
            req = _requirement_clean(
                skill=skills[name],
                operator=step.get("operator"),
                value=step.get("value"),
                where=where,
            )
            resolved.append({"after_seconds": after, "action": "replace", **req})
        else:
            raise ValidationError(f"{where}: action must be 'drop' or 'replace'.")
    return sorted(resolved, key=lambda s: s["after_seconds"])


def requirements_after(*, requirements: list[dict], steps: list[dict], level: int) -> list[dict]:
    """The requirements in force once the first `level` relaxation steps applied."""
    current = {r["skill_id"]: dict(r) for r in requirements}
    for step in steps[:level]:
        if step["action"] == "drop":
            current.pop(step["skill_id"], None)
        else:
            current[step["skill_id"]] = {
                k: step[k] for k in ("skill_id", "skill", "type", "operator", "value")
            }
    return sorted(current.values(), key=lambda r: r["skill_id"])


def requirements_key(requirements: list[dict]) -> str:
    text = json.dumps(
        [[r["skill_id"], r["operator"], r["value"]] for r in requirements], sort_keys=True
    )
    return hashlib.sha1(text.encode()).hexdigest()


# --- Profiles -------------------------------------------------------------------------------


@transaction.atomic
def skill_profile_value_set(
    *, profile: SkillProfile, skill: Skill, value: Any
) -> SkillProfileValue:
    if skill.tenant_id != profile.tenant_id:
        raise ValidationError("No such skill in this tenant.")
    clean = skill_value_clean(skill=skill, value=value)
    row, _ = SkillProfileValue.objects.update_or_create(
        profile=profile, skill=skill, defaults=_columns(skill, clean)
    )
    agent_skills_refresh_for_profile(profile=profile)
    return row


@transaction.atomic
def skill_profile_value_remove(*, profile: SkillProfile, skill: Skill) -> None:
    SkillProfileValue.objects.filter(profile=profile, skill=skill).delete()
    agent_skills_refresh_for_profile(profile=profile)


@transaction.atomic
def skill_profile_values_replace(*, profile: SkillProfile, values: dict[str, Any]) -> SkillProfile:
    """Sets the profile to exactly these skill name -> value pairs."""
    skills = _skills_by_name(tenant=profile.tenant, names=values)
    errors = {}
    rows = []
    for name, value in values.items():
        skill = skills.get(name)
        if skill is None:
            errors[name] = f"There is no skill named {name!r} in this tenant."
            continue
        try:
            rows.append(
                SkillProfileValue(
                    profile=profile,
                    skill=skill,
                    **_columns(skill, skill_value_clean(skill=skill, value=value)),
                )
            )
        except ValidationError as exc:
            errors[name] = exc.messages[0]
    if errors:
        raise ValidationError(errors)
    SkillProfileValue.objects.filter(profile=profile).delete()
    SkillProfileValue.objects.bulk_create(rows)
    agent_skills_refresh_for_profile(profile=profile)
    return profile


@transaction.atomic
def agent_skill_profile_set(
    *, agent: Agent, profile: SkillProfile | None
) -> AgentSkillProfile | None:
    """Gives the agent exactly one skill profile (or none)."""
    if profile is None:
        AgentSkillProfile.objects.filter(agent=agent).delete()
        agent_skills_refresh(agent_ids=[agent.pk])
        return None
    if profile.tenant_id != agent.tenant_id:
        raise ValidationError("No such skill profile in this tenant.")
    row, _ = AgentSkillProfile.objects.update_or_create(
        agent=agent, defaults={"profile": profile, "tenant_id": agent.tenant_id}
    )
    agent_skills_refresh(agent_ids=[agent.pk])
    return row


@transaction.atomic
def team_skill_profile_set(*, team: Team, profile: SkillProfile | None) -> TeamSkillProfile | None:
    if profile is None:
        TeamSkillProfile.objects.filter(team=team).delete()
    else:
        if profile.tenant_id != team.tenant_id:
            raise ValidationError("No such skill profile in this tenant.")
        TeamSkillProfile.objects.update_or_create(
            team=team, defaults={"profile": profile, "tenant_id": team.tenant_id}
        )
    agent_skills_refresh(
        agent_ids=list(Agent.objects.filter(team=team).values_list("pk", flat=True))
    )
    return TeamSkillProfile.objects.filter(team=team).first()


def agent_skills_refresh_for_profile(*, profile: SkillProfile) -> None:
    agent_ids = set(
        AgentSkillProfile.objects.filter(profile=profile).values_list("agent_id", flat=True)
    )
    team_ids = TeamSkillProfile.objects.filter(profile=profile).values_list("team_id", flat=True)
    agent_ids |= set(Agent.objects.filter(team_id__in=team_ids).values_list("pk", flat=True))
    agent_skills_refresh(agent_ids=sorted(agent_ids))


def agent_skills_refresh(*, agent_ids: Iterable[int]) -> None:
    """Rebuilds the effective skill rows of these agents: their own profile over their team's."""
    agent_ids = list(agent_ids)
    if not agent_ids:
        return
    agents = list(Agent.objects.filter(pk__in=agent_ids).values("pk", "team_id"))
    own = dict(
        AgentSkillProfile.objects.filter(agent_id__in=agent_ids).values_list(
            "agent_id", "profile_id"
        )
    )
    team = dict(
        TeamSkillProfile.objects.filter(team_id__in={a["team_id"] for a in agents}).values_list(
            "team_id", "profile_id"
        )
    )
    profile_ids = set(own.values()) | set(team.values())
    values: dict[int, list[SkillProfileValue]] = {}
    for row in SkillProfileValue.objects.filter(profile_id__in=profile_ids):
        values.setdefault(row.profile_id, []).append(row)
    rows = []
    for a in agents:
        effective: dict[int, AgentSkill] = {}
        for source, profile_id in (
            (AgentSkill.Source.TEAM, team.get(a["team_id"])),
            (AgentSkill.Source.AGENT, own.get(a["pk"])),
        ):
            for v in values.get(profile_id, []):
                effective[v.skill_id] = AgentSkill(
                    agent_id=a["pk"],
                    skill_id=v.skill_id,
                    source=source,
                    int_value=v.int_value,
                    bool_value=v.bool_value,
                    text_value=v.text_value,
                )
        rows.extend(effective.values())
    with transaction.atomic():
        AgentSkill.objects.filter(agent_id__in=agent_ids).delete()
        AgentSkill.objects.bulk_create(rows, batch_size=2000)
