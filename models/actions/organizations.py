"""Organizations and their members."""

from __future__ import annotations


from stepwise.models.db import sql
from stepwise.models.db.accounts import Invitation, Membership, Organization, User
from stepwise.models.errors import DomainError, ErrorCode, invalid_input
from stepwise.models.validation import looks_like_email, normalize_email, require_name
from stepwise.permissions.access import Access
from stepwise.permissions.operations import operation
from stepwise.permissions.roles import OrgRole

INVITE_MEMBER = operation("Mutation.inviteMember")


async def create_organization(access: Access, name: str) -> Organization:
    """A new organization whose creator is its ADMIN."""
    viewer = access.require_viewer()
    name = require_name(name, "input.name")
    async with sql.transaction():
        organization = await Organization.create(name=name)
        await Membership.create(organization=organization, user=viewer, role=OrgRole.ADMIN)
    access.forget()
    return organization


async def invite_member(
    access: Access, organization_id: int, username_or_email: str, role: OrgRole
) -> tuple[Membership | None, Invitation | None]:
    """An existing user (by username or e-mail) joins at once; an unknown address gets an invitation."""
    viewer = access.require_viewer()
    await access.check(INVITE_MEMBER, organization_id, what="Organization")
    target = username_or_email.strip()
    field = "input.usernameOrEmail"
    if not target or len(target) > 254:
        raise invalid_input(field, "Give a username or an e-mail address (at most 254 characters).")
    email = normalize_email(target, field) if looks_like_email(target) else None
    user = await (User.get_or_none(email=email) if email else User.get_or_none(username=target))
    if user is None and email is None:
        raise invalid_input(field, f"No user named {target!r}; invite them by e-mail address instead.")
    async with sql.transaction():
        if user is not None:
            if await Membership.filter(organization_id=organization_id, user=user).exists():
                raise DomainError(ErrorCode.ALREADY_EXISTS, "Already a member of this organization.", field)
            membership = await Membership.create(organization_id=organization_id, user=user, role=role)
            return membership, None
        if await Invitation.filter(organization_id=organization_id, email=email).exists():
            raise DomainError(ErrorCode.ALREADY_EXISTS, "This address is already invited.", field)
        invitation = await Invitation.create(
            organization_id=organization_id, email=email, role=role, invited_by=viewer
        )
        return None, invitation
