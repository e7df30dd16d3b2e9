"""Writes for tenants, people, roles, invitations and agent setup."""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from guardian.models import GroupObjectPermission

from tenants import permissions
from tenants.models import (
    Agent,
    Invitation,
    Membership,
    MultimediaProfile,
    RoleChange,
    Site,
    Team,
    Tenant,
    TenantPolicy,
    User,
)
from tenants.roles import (
    AdminRole,
    CareProfile,
    ConnectRole,
    TenantKind,
    admin_role_for,
    connect_role_for,
)

# --- permissions -------------------------------------------------------------------------


def permissions_ensure(*, using: str = "default") -> None:
    """Creates the matrix's permission rows and brings every existing role group up to date."""
    ctype = ContentType.objects.db_manager(using).get_for_model(Tenant)
    matrix_codenames = permissions.all_codenames()
    stale = Permission.objects.using(using).filter(content_type=ctype, codename__startswith="can_")
    stale.exclude(codename__in=matrix_codenames).delete()
    existing = set(
        Permission.objects.using(using)
        .filter(content_type=ctype)
        .values_list("codename", flat=True)
    )
    Permission.objects.using(using).bulk_create(
        [
            Permission(
                content_type=ctype, codename=code, name=f"Can {code.replace('_', ' ')} in tenant"
            )
            for code in sorted(matrix_codenames - existing)
        ]
    )
    for group in Group.objects.using(using).filter(name__startswith="tenant-"):
        tenant_id, _, grant_role = group.name.removeprefix("tenant-").partition(":")
        if grant_role in permissions.MATRIX:
            _role_group_sync(
                group=group, tenant_id=int(tenant_id), grant_role=grant_role, using=using
            )


def _role_group_name(tenant_id: int, grant_role: str) -> str:
    return f"tenant-{tenant_id}:{grant_role}"


def _role_group_sync(
    *, group: Group, tenant_id: int, grant_role: str, using: str = "default"
) -> None:
    ctype = ContentType.objects.db_manager(using).get_for_model(Tenant)
    wanted = dict(
        Permission.objects.using(using)
        .filter(content_type=ctype, codename__in=permissions.codenames_for(grant_role))
        .values_list("codename", "id")
    )
    granted = GroupObjectPermission.objects.using(using).filter(
        group=group, content_type=ctype, object_pk=str(tenant_id)
    )
    have = set(granted.values_list("permission__codename", flat=True))
    granted.exclude(permission__codename__in=wanted).delete()
    GroupObjectPermission.objects.using(using).bulk_create(
        [
            GroupObjectPermission(
                group=group,
                permission_id=wanted[code],
                content_type=ctype,
                object_pk=str(tenant_id),
            )
            for code in wanted.keys() - have
        ]
    )


def role_group_get(*, tenant: Tenant, grant_role: str) -> Group:
    """The group holding one matrix row's grants in one tenant (created on first use)."""
    return _role_group(tenant_id=tenant.pk, grant_role=grant_role)


def _role_group(*, tenant_id: int, grant_role: str) -> Group:
    group, created = Group.objects.get_or_create(name=_role_group_name(tenant_id, grant_role))
    if created:
        _role_group_sync(group=group, tenant_id=tenant_id, grant_role=grant_role)
    return group


def _grant_roles(membership: Membership) -> list[str]:
    """The matrix rows a membership holds in its own tenant (and, for partners, their customers)."""
    if membership.tenant.kind == TenantKind.PARTNER:
        roles = [f"partner:{membership.admin_role}"] if membership.is_admin else []
    else:
        roles = [f"admin:{membership.admin_role}"] if membership.is_admin else []
        if membership.care_profile != CareProfile.NONE:
            roles.append(f"care:{membership.care_profile}")
    if membership.connect_role != ConnectRole.NONE:
        roles.append(f"connect:{membership.connect_role}")
    return roles


def membership_sync_groups(*, membership: Membership) -> None:
    """Puts the user in exactly the role groups their membership calls for."""
    tenant = membership.tenant
    tenant_ids = [tenant.id]
    if tenant.kind == TenantKind.PARTNER:
        tenant_ids += list(tenant.customer_tenants.values_list("id", flat=True))
    user = membership.user
    stale = user.groups.filter(name__regex=r"^tenant-(%s):" % "|".join(map(str, tenant_ids)))
    user.groups.remove(*stale)
    grant_roles = _grant_roles(membership)
    user.groups.add(
        *[_role_group(tenant_id=tid, grant_role=role) for tid in tenant_ids for role in grant_roles]
    )


# --- tenants -----------------------------------------------------------------------------


@transaction.atomic
def tenant_create(
    *,
    name: str,
    kind: str = TenantKind.CUSTOMER,
    partner: Tenant | None = None,
    slug: str | None = None,
) -> Tenant:
    if partner is not None and partner.kind != TenantKind.PARTNER:
        raise ValidationError({"partner": "only a partner tenant can manage customer tenants"})
    if partner is not None and kind != TenantKind.CUSTOMER:
        raise ValidationError({"kind": "a partner tenant cannot itself have a partner"})
    tenant = Tenant(name=name, kind=kind, partner=partner, slug=slug or slugify(name)[:60])
    tenant.full_clean()
    tenant.save()
    TenantPolicy.objects.create(tenant=tenant)
    if partner is not None:
        # The partner's admins manage the new customer at once.
        for membership in partner.memberships.select_related("user", "tenant"):
            membership_sync_groups(membership=membership)
    return tenant


# --- memberships and role sync -------------------------------------------------------------


def _check_roles(*, tenant: Tenant, admin_role: str, care_profile: str) -> None:
    if tenant.kind == TenantKind.PARTNER:
        if admin_role == AdminRole.CC_ADMIN:
            raise ValidationError(
                {"admin_role": "a partner admin cannot be a contact-center admin"}
            )
        if care_profile != CareProfile.NONE:
            raise ValidationError(
                {"care_profile": "partner admins have no access to the care console"}
            )
    elif admin_role == AdminRole.PROVISIONING_ADMIN:
        raise ValidationError({"admin_role": "provisioning admins exist only in partner tenants"})


def _synced_roles(
    *, tenant: Tenant, admin_role: str | None, connect_role: str | None
) -> tuple[str, str]:
    """Applies the role tables: the role that was given decides the other one.

    Given both, they must be a pair one of the tables makes (an invitation stores both).
    """
    try:
        if admin_role is not None and connect_role is not None:
            if connect_role != connect_role_for(
                tenant_kind=tenant.kind, admin_role=admin_role
            ) and admin_role != admin_role_for(tenant_kind=tenant.kind, connect_role=connect_role):
                raise ValueError(
                    f"admin role '{admin_role}' and workspace role '{connect_role}' do not go together"
                )
            return admin_role, connect_role
        if admin_role is not None:
            return admin_role, connect_role_for(tenant_kind=tenant.kind, admin_role=admin_role)
        if connect_role is not None:
            return admin_role_for(tenant_kind=tenant.kind, connect_role=connect_role), connect_role
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc
    return AdminRole.NONE, ConnectRole.NONE


# How far an admin role reaches: nobody grants, changes or removes a role above their own.
ADMIN_RANK: dict[str, int] = {
    AdminRole.FULL_ADMIN: 3,
    AdminRole.CC_ADMIN: 2,
    AdminRole.PROVISIONING_ADMIN: 2,
    AdminRole.READ_ONLY: 1,
    AdminRole.NONE: 0,
}


def _actor_rank(*, actor: User, tenant: Tenant) -> int:
    """The highest admin role the actor holds over tenant: their own, or their partner's."""
    if actor.is_superuser:
        return max(ADMIN_RANK.values())
    roles = Membership.objects.filter(user=actor, tenant=tenant).values_list(
        "admin_role", flat=True
    )
    ranks = [ADMIN_RANK.get(role, 0) for role in roles]
    if tenant.partner_id is not None:
        partner_roles = Membership.objects.filter(
            user=actor, tenant_id=tenant.partner_id
        ).values_list("admin_role", flat=True)
        ranks += [ADMIN_RANK.get(role, 0) for role in partner_roles]
    return max(ranks, default=0)


GRANT = "You may not grant the role '{role}': it is above your own."
TOUCH = "You may not change or remove a member whose role '{role}' is above your own."


def _check_ceiling(
    *, actor: User | None, tenant: Tenant, roles: list[str], message: str = GRANT
) -> None:
    """Refuses (PermissionDenied) when any of roles is above the actor's own admin role.

    actor None is the system itself (demo seed, accepting an invitation checked when sent)."""
    if actor is None:
        return
    own = _actor_rank(actor=actor, tenant=tenant)
    for role in roles:
        if ADMIN_RANK.get(role, 0) > own:
            raise PermissionDenied(message.format(role=AdminRole(role).label))


def role_grant_check(*, actor: User, tenant: Tenant, admin_role: str) -> None:
    """For forms that want to refuse early: PermissionDenied when admin_role is above actor's."""
    _check_ceiling(actor=actor, tenant=tenant, roles=[admin_role])


def _check_last_full_admin(*, membership: Membership, new_admin_role: str) -> None:
    """A tenant keeps at least one full admin: the last one cannot be demoted or removed."""
    if membership.admin_role != AdminRole.FULL_ADMIN or new_admin_role == AdminRole.FULL_ADMIN:
        return
    # Locking the tenant's full admins serialises two admins demoting each other at once.
    others = [
        pk
        for pk in Membership.objects.select_for_update()
        .filter(tenant_id=membership.tenant_id, admin_role=AdminRole.FULL_ADMIN)
        .values_list("pk", flat=True)
        if pk != membership.pk
    ]
    if not others:
        raise ValidationError(
            {
                "admin_role": f"{membership.user.email} is the last full admin of "
                f"{membership.tenant.name}; make someone else full admin first"
            }
        )


def _role_change_record(
    *,
    membership: Membership,
    action: str,
    actor: User | None,
    before: tuple[str, str, str] = ("", "", ""),
    after: tuple[str, str, str] = ("", "", ""),
) -> None:
    if action == RoleChange.Action.CHANGED and before == after:
        return
    RoleChange.objects.create(
        tenant_id=membership.tenant_id,
        user=membership.user,
        user_email=membership.user.email,
        changed_by=actor,
        changed_by_email=actor.email if actor is not None else "",
        action=action,
        admin_role_before=before[0],
        connect_role_before=before[1],
        care_profile_before=before[2],
        admin_role_after=after[0],
        connect_role_after=after[1],
        care_profile_after=after[2],
    )


def _roles_of(membership: Membership) -> tuple[str, str, str]:
    return (membership.admin_role, membership.connect_role, membership.care_profile)


@transaction.atomic
def membership_create(
    *,
    user: User,
    tenant: Tenant,
    admin_role: str | None = None,
    connect_role: str | None = None,
    care_profile: str = CareProfile.NONE,
    actor: User | None = None,
    invited_by: User | None = None,
) -> Membership:
    """actor is checked against the role ceiling; invited_by (already checked) is only recorded."""
    admin, connect = _synced_roles(tenant=tenant, admin_role=admin_role, connect_role=connect_role)
    _check_roles(tenant=tenant, admin_role=admin, care_profile=care_profile)
    _check_ceiling(actor=actor, tenant=tenant, roles=[admin])
    if Membership.objects.filter(user=user, tenant=tenant).exists():
        raise ValidationError(f"{user.email} is already a member of {tenant.name}")
    membership = Membership.objects.create(
        user=user, tenant=tenant, admin_role=admin, connect_role=connect, care_profile=care_profile
    )
    membership_sync_groups(membership=membership)
    _role_change_record(
        membership=membership,
        action=RoleChange.Action.JOINED,
        actor=actor or invited_by,
        after=_roles_of(membership),
    )
    return membership


def _membership_set_roles(
    *, membership: Membership, admin: str, connect: str, actor: User | None
) -> Membership:
    _check_roles(tenant=membership.tenant, admin_role=admin, care_profile=membership.care_profile)
    if admin != membership.admin_role:
        _check_ceiling(
            actor=actor, tenant=membership.tenant, roles=[membership.admin_role], message=TOUCH
        )
        _check_ceiling(actor=actor, tenant=membership.tenant, roles=[admin])
        _check_last_full_admin(membership=membership, new_admin_role=admin)
    before = _roles_of(membership)
    membership.admin_role, membership.connect_role = admin, connect
    membership.save(update_fields=["admin_role", "connect_role"])
    membership_sync_groups(membership=membership)
    _role_change_record(
        membership=membership,
        action=RoleChange.Action.CHANGED,
        actor=actor,
        before=before,
        after=_roles_of(membership),
    )
    return membership


@transaction.atomic
def membership_set_admin_role(
    *, membership: Membership, admin_role: str, actor: User | None = None
) -> Membership:
    """Table 1 (partner) or table 2 (customer): the admin role sets the workspace role."""
    admin, connect = _synced_roles(
        tenant=membership.tenant, admin_role=admin_role, connect_role=None
    )
    return _membership_set_roles(membership=membership, admin=admin, connect=connect, actor=actor)


@transaction.atomic
def membership_set_connect_role(
    *, membership: Membership, connect_role: str, actor: User | None = None
) -> Membership:
    """Table 3 (customer) or table 1 read backwards (partner): the workspace role sets the admin role."""
    admin, connect = _synced_roles(
        tenant=membership.tenant, admin_role=None, connect_role=connect_role
    )
    return _membership_set_roles(membership=membership, admin=admin, connect=connect, actor=actor)


@transaction.atomic
def membership_set_care_profile(
    *, membership: Membership, care_profile: str, actor: User | None = None
) -> Membership:
    _check_roles(
        tenant=membership.tenant, admin_role=membership.admin_role, care_profile=care_profile
    )
    _check_ceiling(
        actor=actor, tenant=membership.tenant, roles=[membership.admin_role], message=TOUCH
    )
    before = _roles_of(membership)
    membership.care_profile = care_profile
    membership.save(update_fields=["care_profile"])
    membership_sync_groups(membership=membership)
    _role_change_record(
        membership=membership,
        action=RoleChange.Action.CHANGED,
        actor=actor,
        before=before,
        after=_roles_of(membership),
    )
    return membership


@transaction.atomic
def membership_delete(*, membership: Membership, actor: User | None = None) -> None:
    _check_ceiling(
        actor=actor, tenant=membership.tenant, roles=[membership.admin_role], message=TOUCH
    )
    _check_last_full_admin(membership=membership, new_admin_role=AdminRole.NONE)
    before = _roles_of(membership)
    _role_change_record(
        membership=membership, action=RoleChange.Action.REMOVED, actor=actor, before=before
    )
    membership.admin_role = AdminRole.NONE
    membership.connect_role = ConnectRole.NONE
    membership.care_profile = CareProfile.NONE
    membership_sync_groups(membership=membership)
    membership.delete()


# --- invitations ---------------------------------------------------------------------------


class InvitationExpired(Exception):
    pass


class InvitationUsed(Exception):
    pass


def _invitation_window() -> tuple[datetime, datetime]:
    now = timezone.now()
    return now, now + timedelta(days=settings.INVITATION_VALID_DAYS)


def _invitation_mail(invitation: Invitation) -> None:
    link = f"{settings.PUBLIC_BASE_URL}/invitations/{invitation.token}/"
    send_mail(
        subject=f"You are invited to {invitation.tenant.name}",
        message=(
            f"You have been invited to the contact center of {invitation.tenant.name}.\n\n"
            f"Create your account and sign in within {settings.INVITATION_VALID_DAYS} days:\n{link}\n\n"
            f"After {invitation.expires_at:%Y-%m-%d %H:%M} UTC the link no longer works and an "
            "admin has to send a new one."
        ),
        from_email=None,
        recipient_list=[invitation.email],
    )


def _agent_placement(
    *,
    tenant: Tenant,
    team: Team | None,
    site: Site | None,
    multimedia_profile: MultimediaProfile | None,
) -> tuple[Team, Site, MultimediaProfile]:
    """The team, site and multimedia profile of a new agent: the ones given, else the defaults
    (the tenant's only team, the team's site, the site's profile)."""
    for name, value in (("team", team), ("site", site), ("multimedia_profile", multimedia_profile)):
        if value is not None and value.tenant_id != tenant.pk:
            raise ValidationError({name: "No such object in this tenant."})
    if team is None:
        teams = list(Team.objects.filter(tenant=tenant).select_related("site")[:2])
        if not teams:
            raise ValidationError(
                {
                    "team": "an agent needs a team: create a multimedia profile, a site and a team first"
                }
            )
        if len(teams) > 1:
            raise ValidationError({"team": "choose the team the agent works in"})
        team = teams[0]
    site = site or team.site
    multimedia_profile = multimedia_profile or site.multimedia_profile
    return team, site, multimedia_profile


@dataclass(frozen=True)
class InvitationTerms:
    email: str
    admin_role: str
    connect_role: str
    care_profile: str
    team: Team | None
    site: Site | None
    multimedia_profile: MultimediaProfile | None


def invitation_check(
    *,
    tenant: Tenant,
    email: str,
    admin_role: str | None = None,
    connect_role: str | None = None,
    care_profile: str = CareProfile.NONE,
    team: Team | None = None,
    site: Site | None = None,
    multimedia_profile: MultimediaProfile | None = None,
) -> InvitationTerms:
    """What an invitation would hold, with the agent placement's defaults filled in."""
    admin, connect = _synced_roles(tenant=tenant, admin_role=admin_role, connect_role=connect_role)
    _check_roles(tenant=tenant, admin_role=admin, care_profile=care_profile)
    if care_profile == CareProfile.AGENT:
        team, site, multimedia_profile = _agent_placement(
            tenant=tenant, team=team, site=site, multimedia_profile=multimedia_profile
        )
    elif team or site or multimedia_profile:
        raise ValidationError(
            {
                "team": "a team, site or multimedia profile is only for invitees with the agent profile"
            }
        )
    email = email.strip().lower()
    if Membership.objects.filter(tenant=tenant, user__email=email).exists():
        raise ValidationError({"email": f"{email} is already a member of {tenant.name}"})
    return InvitationTerms(email, admin, connect, care_profile, team, site, multimedia_profile)


@transaction.atomic
def invitation_create(
    *,
    tenant: Tenant,
    email: str,
    invited_by: User | None,
    admin_role: str | None = None,
    connect_role: str | None = None,
    care_profile: str = CareProfile.NONE,
    team: Team | None = None,
    site: Site | None = None,
    multimedia_profile: MultimediaProfile | None = None,
) -> Invitation:
    terms = invitation_check(
        tenant=tenant,
        email=email,
        admin_role=admin_role,
        connect_role=connect_role,
        care_profile=care_profile,
        team=team,
        site=site,
        multimedia_profile=multimedia_profile,
    )
    _check_ceiling(actor=invited_by, tenant=tenant, roles=[terms.admin_role])
    created_at, expires_at = _invitation_window()
    invitation = Invitation.objects.create(
        tenant=tenant,
        email=terms.email,
        admin_role=terms.admin_role,
        connect_role=terms.connect_role,
        care_profile=terms.care_profile,
        team=terms.team,
        site=terms.site,
        multimedia_profile=terms.multimedia_profile,
        invited_by=invited_by,
        created_at=created_at,
        expires_at=expires_at,
    )
    transaction.on_commit(lambda: _invitation_mail(invitation))
    return invitation


@transaction.atomic
def invitation_reissue(*, invitation: Invitation, actor: User | None = None) -> Invitation:
    """A fresh link and a fresh validity window; the old link stops working."""
    if invitation.accepted_at is not None:
        raise ValidationError("this invitation was already accepted")
    _check_ceiling(actor=actor, tenant=invitation.tenant, roles=[invitation.admin_role])
    invitation.token = secrets.token_urlsafe()
    invitation.created_at, invitation.expires_at = _invitation_window()
    invitation.save(update_fields=["token", "created_at", "expires_at"])
    transaction.on_commit(lambda: _invitation_mail(invitation))
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, full_name: str, password: str) -> User:
    """Creates (or reuses) the account and the membership. Raises InvitationExpired after 7 days."""
    invitation = (
        Invitation.objects.select_for_update().select_related("tenant").filter(token=token).first()
    )
    if invitation is None:
        raise Invitation.DoesNotExist
    if invitation.accepted_at is not None:
        raise InvitationUsed
    if invitation.is_expired:
        raise InvitationExpired
    user = User.objects.filter(email=invitation.email).first()
    if user is None:
        user = User(email=invitation.email, full_name=full_name)
        validate_password(password, user)
        user.set_password(password)
        user.save()
    elif not user.check_password(password):
        raise ValidationError({"password": "this account exists already: enter its password"})
    membership_create(
        user=user,
        tenant=invitation.tenant,
        admin_role=invitation.admin_role,
        connect_role=invitation.connect_role,
        care_profile=invitation.care_profile,
        # The inviter's ceiling was checked when the invitation was sent; the record names them.
        invited_by=invitation.invited_by,
    )
    if invitation.care_profile == CareProfile.AGENT:
        # What was named may have been deleted since: the defaults stand in.
        team, site, profile = _agent_placement(
            tenant=invitation.tenant,
            team=invitation.team,
            site=invitation.site,
            multimedia_profile=invitation.multimedia_profile,
        )
        Agent.objects.get_or_create(
            tenant=invitation.tenant,
            user=user,
            defaults={
                "team": team,
                "site": site,
                "multimedia_profile": profile,
                "display_name": user.full_name,
            },
        )
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    return user
