"""What the fields of users and organizations fetch (schema/types/accounts.py wraps the rows)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stepwise.schema.context import Info


async def user_email(info: Info, user) -> str | None:
    """The user's e-mail for the user themself and for admins of an organization they belong to."""
    access = info.context.access
    if access.viewer is not None and access.viewer.id == user.id:
        return user.email
    their_orgs = await info.context.loaders.memberships_by_user.load(user.id)
    for membership in their_orgs:
        if await access.can("user.email", membership.organization_id):
            return user.email
    return None


async def viewer_org_role(info: Info, org_id: int):
    """The viewer's role in the organization (None when not a member)."""
    return await info.context.access.org_role(org_id)


async def organization_members(info: Info, org_id: int) -> list:
    """The organization's memberships, oldest first."""
    return await info.context.loaders.memberships_by_organization.load(org_id)


async def organization_datasets(info: Info, org_id: int) -> list:
    """The organization's datasets the viewer may read, by name."""
    rows = await info.context.loaders.datasets_by_organization.load(org_id)
    access = info.context.access
    return [r for r in rows if await access.can("dataset.read", r.organization_id, r.id)]


async def organization_invitations(info: Info, org_id: int) -> list:
    """The organization's pending invitations, oldest first."""
    return await info.context.loaders.invitations_by_organization.load(org_id)
