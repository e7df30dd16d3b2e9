"""One tenant's configuration as a JSON document, and back: to copy a tenant between
installations (staging to production, one region to another).

What travels: multimedia profiles, sites, teams, idle and wrap-up codes, skills, skill profiles
(with their values and team assignments), queues, channel templates, channel assets (with their
chat widget), global variables, node authorizations, flows with their published versions, and
entry points. What does not: people (users, agents, memberships), conversations and every other
record of work, and secrets. A secret (every encrypted field) is never written to the file; the
file lists which secrets each asset had, and an imported asset has them empty until an admin
enters them (the admin console shows "not set" and the webhook refuses everything until then).

Every object is matched by its natural key within the tenant (its name; a channel template by
its kind; a flow version by its number), so importing the same file twice changes nothing the
second time. An import is one transaction: any problem refuses the whole file with every reason,
and it never reads or writes another tenant's rows.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from channels_app.fields import EncryptedTextField
from channels_app.models import ChannelAsset, ChannelTemplate, ChatWidget
from routing.flows import definitions
from routing.flows.models import Flow, FlowVersion, GlobalVariable, NodeAuthorization
from routing.models import (
    EntryPoint,
    Queue,
    Skill,
    SkillProfile,
    SkillProfileValue,
    TeamSkillProfile,
)
from tenants.models import IdleCode, MultimediaProfile, Site, Team, Tenant, WrapUpCode

FORMAT = "contact-center/tenant-config"
FORMAT_VERSION = 1

# section -> (model, natural key field); in the order an import creates them.
SECTIONS: list[tuple[str, type[models.Model], str]] = [
    ("multimedia_profiles", MultimediaProfile, "name"),
    ("sites", Site, "name"),
    ("teams", Team, "name"),
    ("idle_codes", IdleCode, "name"),
    ("wrap_up_codes", WrapUpCode, "name"),
    ("skills", Skill, "name"),
    ("skill_profiles", SkillProfile, "name"),
    ("queues", Queue, "name"),
    ("channel_templates", ChannelTemplate, "kind"),
    ("channel_assets", ChannelAsset, "name"),
    ("global_variables", GlobalVariable, "name"),
    ("node_authorizations", NodeAuthorization, "node"),
    ("flows", Flow, "name"),
    ("entry_points", EntryPoint, "name"),
]
# Foreign keys a section refers to by the target's natural key.
REFERENCES: dict[type[models.Model], dict[str, type[models.Model]]] = {
    Site: {"multimedia_profile": MultimediaProfile},
    Team: {"site": Site},
    Queue: {"overflow_queue": Queue},
    EntryPoint: {"asset": ChannelAsset, "flow": Flow},
}
# Bookkeeping that belongs to one installation, not to the configuration.
SKIPPED = {
    "id",
    "tenant",
    "uuid",
    "widget_id",
    "created_at",
    "updated_at",
    "authorized_by",
    "authorized_at",
}
TYPED_VALUE_FIELDS = ("int_value", "bool_value", "text_value")


class ConfigImportError(ValidationError):
    """A configuration file that cannot be imported; `problems` names each one and where."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(problems)


def secret_fields(model: type[models.Model]) -> list[str]:
    return [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]


def _plain_fields(model: type[models.Model]) -> list[models.Field]:
    return [
        f
        for f in model._meta.concrete_fields
        if f.name not in SKIPPED
        and not f.is_relation
        and not isinstance(f, EncryptedTextField)
        and not isinstance(f, models.DateTimeField)
    ]


def _natural(obj: models.Model | None) -> str | None:
    if obj is None:
        return None
    return getattr(obj, "kind" if isinstance(obj, ChannelTemplate) else "name")


def _row(obj: models.Model) -> dict[str, Any]:
    row = {f.name: getattr(obj, f.attname) for f in _plain_fields(type(obj))}
    for name in REFERENCES.get(type(obj), {}):
        row[name] = _natural(getattr(obj, name))
    return row


# --- export -----------------------------------------------------------------------------------


def tenant_config_export(*, tenant: Tenant) -> dict[str, Any]:
    """The tenant's configuration, without secrets, as a JSON-ready dict."""
    document: dict[str, Any] = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "tenant": {"name": tenant.name, "slug": tenant.slug},
        "exported_at": timezone.now().isoformat(),
    }
    for section, model, key in SECTIONS:
        rows = []
        for obj in model.objects.filter(tenant=tenant).order_by(key):
            row = _row(obj)
            if isinstance(obj, SkillProfile):
                row["values"] = [
                    {"skill": v.skill.name, **{f: getattr(v, f) for f in TYPED_VALUE_FIELDS}}
                    for v in obj.values.select_related("skill").order_by("skill__name")
                ]
                row["teams"] = sorted(
                    a.team.name for a in obj.team_assignments.select_related("team")
                )
            elif isinstance(obj, Queue):
                row["teams"] = sorted(obj.teams.values_list("name", flat=True))
            elif isinstance(obj, ChannelAsset):
                row["secrets_to_enter"] = [
                    f for f in secret_fields(ChannelAsset) if getattr(obj, f)
                ]
                widget = ChatWidget.objects.filter(asset=obj).first()
                if widget is not None:
                    row["chat_widget"] = _row(widget)
                    if widget.identity_secret:
                        row["secrets_to_enter"].append("chat_widget.identity_secret")
            elif isinstance(obj, Flow):
                row["published_versions"] = [
                    {"number": v.number, "note": v.note, "definition": v.definition}
                    for v in obj.versions.filter(status=FlowVersion.Status.PUBLISHED).order_by(
                        "number"
                    )
                ]
            rows.append(row)
        document[section] = rows
    return document


# --- import -----------------------------------------------------------------------------------


class _Importer:
    def __init__(self, tenant: Tenant, document: dict[str, Any]):
        self.tenant = tenant
        self.document = document
        self.problems: list[str] = []
        self.counts: dict[str, dict[str, int]] = {}
        self.secrets_to_enter: dict[str, list[str]] = {}

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def rows(self, section: str) -> list[dict]:
        rows = self.document.get(section, [])
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            self.problem(section, "must be a list of objects")
            return []
        return rows

    def resolve(self, model: type[models.Model], name: Any, where: str):
        if name is None:
            return None
        key = "kind" if model is ChannelTemplate else "name"
        found = model.objects.filter(tenant=self.tenant, **{key: name}).first()
        if found is None:
            section = next(section for section, m, _ in SECTIONS if m is model)
            in_file = any(
                isinstance(r, dict) and r.get(key) == name for r in self.document.get(section) or []
            )
            self.problem(
                where,
                f"refers to {model._meta.verbose_name} {name!r}, "
                + (
                    "which could not be imported (see above)"
                    if in_file
                    else "which is not in the file"
                ),
            )
        return found

    def upsert(self, section: str, model, key: str, row: dict, extra: dict | None = None):
        where = f"{section}[{row.get(key)!r}]"
        before = len(self.problems)
        value = row.get(key)
        if not isinstance(value, str) or not value:
            self.problem(section, f"an entry has no {key}")
            return None
        known = {f.name for f in _plain_fields(model)} | set(REFERENCES.get(model, {}))
        fields = {k: v for k, v in row.items() if k in known and k != key}
        for name, target in REFERENCES.get(model, {}).items():
            if name in fields:
                fields[name] = self.resolve(target, fields[name], where)
        fields.update(extra or {})
        obj = model.objects.filter(tenant=self.tenant, **{key: value}).first()
        created = obj is None
        if created:
            obj = model(tenant=self.tenant, **{key: value})
        changed = created
        for name, new in fields.items():
            attname = model._meta.get_field(name).attname
            current = getattr(obj, attname)
            new_value = new.pk if isinstance(new, models.Model) else new
            if current != new_value:
                setattr(obj, attname, new_value)
                changed = True
        if len(self.problems) > before:
            return None  # a reference is missing: said once, not again as a null field
        if changed:
            self._taken_elsewhere(obj, where)
            if isinstance(obj, Queue) and obj.default:
                other = Queue.objects.filter(tenant=self.tenant, default=True).exclude(name=value)
                if other.exists():
                    self.problem(
                        where,
                        f"is the default queue, but {other.first().name!r} already is here "
                        "(a tenant has one default queue)",
                    )
            try:
                # Provider ids unique across the installation are checked above, with a reason
                # that names no other tenant.
                obj.full_clean(
                    exclude=["tenant"],
                    validate_unique=False,
                    validate_constraints=not isinstance(obj, ChannelAsset),
                )
            except ValidationError as exc:
                for field, messages in exc.message_dict.items():
                    self.problem(where, f"{field}: {' '.join(messages)}")
            if len(self.problems) > before:
                return None
            obj.save()
        counts = self.counts.setdefault(section, {"created": 0, "updated": 0, "unchanged": 0})
        counts["created" if created else "updated" if changed else "unchanged"] += 1
        return obj

    def _taken_elsewhere(self, obj, where: str) -> None:
        """Provider ids are unique across the installation: one held by another tenant's asset
        is a problem to report (by the field, never by that tenant's name or data)."""
        if not isinstance(obj, ChannelAsset):
            return
        for field in (
            "wa_phone_number_id",
            "fb_page_id",
            "sms_number",
            "email_address",
            "apple_business_id",
        ):
            value = getattr(obj, field)
            if (
                value
                and ChannelAsset.objects.filter(**{field: value})
                .exclude(tenant=self.tenant)
                .exists()
            ):
                self.problem(where, f"{field} {value!r} is already used by another tenant's asset")

    def run(self) -> None:
        for section, model, key in SECTIONS:
            rows = self.rows(section)
            if model is Queue:
                rows = self._overflow_targets_first(rows)
            for row in rows:
                obj = self.upsert(section, model, key, row)
                if obj is None:
                    continue
                getattr(self, f"_after_{section}", lambda obj, row: None)(obj, row)

    def _overflow_targets_first(self, rows: list[dict]) -> list[dict]:
        """A queue with a maximum time needs its overflow queue to exist when it is saved."""
        ordered, placed, pending = [], set(), list(rows)
        while pending:
            ready = [
                r
                for r in pending
                if r.get("overflow_queue") in placed
                or r.get("overflow_queue") is None
                or Queue.objects.filter(tenant=self.tenant, name=r.get("overflow_queue")).exists()
                and r.get("overflow_queue") not in {p.get("name") for p in pending}
            ]
            if not ready:
                names = ", ".join(repr(r.get("name")) for r in pending)
                self.problem("queues", f"overflow queues form a cycle or are missing: {names}")
                return ordered
            ordered += ready
            placed |= {r.get("name") for r in ready}
            pending = [r for r in pending if r not in ready]
        return ordered

    def _after_skill_profiles(self, profile: SkillProfile, row: dict) -> None:
        where = f"skill_profiles[{profile.name!r}]"
        wanted = {}
        for value in row.get("values") or []:
            skill = self.resolve(Skill, value.get("skill"), where)
            if skill is not None:
                wanted[skill.pk] = {f: value.get(f) for f in TYPED_VALUE_FIELDS}
        profile.values.exclude(skill_id__in=wanted).delete()
        for skill_id, typed in wanted.items():
            SkillProfileValue.objects.update_or_create(
                profile=profile, skill_id=skill_id, defaults=typed
            )
        for team_name in row.get("teams") or []:
            team = self.resolve(Team, team_name, where)
            if team is not None:
                TeamSkillProfile.objects.update_or_create(
                    team=team, defaults={"tenant": self.tenant, "profile": profile}
                )

    def _after_queues(self, queue: Queue, row: dict) -> None:
        teams = [self.resolve(Team, n, f"queues[{queue.name!r}]") for n in row.get("teams") or []]
        if None not in teams and set(queue.teams.all()) != set(teams):
            queue.teams.set(teams)

    def _after_channel_assets(self, asset: ChannelAsset, row: dict) -> None:
        missing = [f for f in secret_fields(ChannelAsset) if not getattr(asset, f)]
        wanted = [s for s in row.get("secrets_to_enter") or [] if s in missing or "." in s]
        widget_row = row.get("chat_widget")
        if isinstance(widget_row, dict):
            widget, _ = ChatWidget.objects.get_or_create(asset=asset)
            fields = {f.name for f in _plain_fields(ChatWidget)}
            changed = False
            for name, value in widget_row.items():
                if name in fields and getattr(widget, name) != value:
                    setattr(widget, name, value)
                    changed = True
            if changed:
                try:
                    widget.full_clean(exclude=["asset"], validate_unique=False)
                except ValidationError as exc:
                    self.problem(
                        f"channel_assets[{asset.name!r}].chat_widget", "; ".join(exc.messages)
                    )
                    return
                widget.save()
            if widget.identity_secret:
                wanted = [s for s in wanted if s != "chat_widget.identity_secret"]
        if wanted:
            self.secrets_to_enter[asset.name] = wanted

    def _after_flows(self, flow: Flow, row: dict) -> None:
        where = f"flows[{flow.name!r}]"
        for version in row.get("published_versions") or []:
            number, definition = version.get("number"), version.get("definition")
            if not isinstance(number, int) or number < 1:
                self.problem(where, "a published version needs a number")
                continue
            found = definitions.problems(definition)
            if not found and definition.get("kind") != flow.kind:
                self.problem(where, f"version {number} is a {definition.get('kind')!r} flow")
                continue
            for problem in found:
                self.problem(f"{where} version {number}", str(problem))
            if found:
                continue
            existing = flow.versions.filter(number=number).first()
            if existing is None:
                FlowVersion.objects.create(
                    tenant=self.tenant,
                    flow=flow,
                    number=number,
                    definition=definition,
                    note=str(version.get("note") or "imported")[:200],
                    status=FlowVersion.Status.PUBLISHED,
                    published_at=timezone.now(),
                )
            elif existing.definition != definition:
                self.problem(
                    where,
                    f"version {number} exists here with another document; published versions "
                    "never change (rename the flow to import it beside this one)",
                )


def tenant_config_import(*, tenant: Tenant, document: Any) -> dict[str, Any]:
    """Creates or updates tenant's configuration from an exported document, all or nothing.

    Returns {"counts": {section: {created, updated, unchanged}}, "secrets_to_enter": {asset:
    [field, ...]}}; raises ConfigImportError with every problem found."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ConfigImportError([f"not a tenant configuration file (format must be {FORMAT!r})"])
    if document.get("version") != FORMAT_VERSION:
        raise ConfigImportError(
            [f"format version {document.get('version')!r} is not {FORMAT_VERSION}"]
        )
    importer = _Importer(tenant, document)
    with transaction.atomic():
        importer.run()
        if importer.problems:
            # Everything written so far goes with the transaction: all or nothing.
            raise ConfigImportError(importer.problems)
    return {"counts": importer.counts, "secrets_to_enter": importer.secrets_to_enter}
