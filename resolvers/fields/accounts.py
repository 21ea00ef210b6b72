"""What the fields of users and organizations fetch (schema/types/accounts.py wraps the rows)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stepwise.models.queries.campaigns import organization_campaign_count, organization_campaign_page
from stepwise.permissions.operations import operation

if TYPE_CHECKING:
    from stepwise.schema.context import Info

USER_EMAIL = operation("User.email")
# Organization.datasets lists the datasets Query.dataset would answer.
OPEN_DATASET = operation("Query.dataset")


async def user_email(info: Info, user) -> str | None:
    """The user's e-mail for the user themself and for admins of an organization they belong to."""
    access = info.context.access
    if access.viewer is not None and access.viewer.id == user.id:
        return user.email
    their_orgs = await info.context.loaders.memberships_by_user.load(user.id)
    for membership in their_orgs:
        if await access.can(USER_EMAIL, membership.organization_id):
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
    return [r for r in rows if await access.can(OPEN_DATASET, r.organization_id, r.id)]


async def organization_invitations(info: Info, org_id: int) -> list:
    """The organization's pending invitations, oldest first."""
    return await info.context.loaders.invitations_by_organization.load(org_id)



async def organization_campaigns(info: Info, org_id: int, status, now, first: int, before_id: int) -> tuple[list, bool]:
    """A page of the organization's campaigns the viewer may open (permissions/visibility.py),
    newest first, in `status` as displayed at `now`, and whether more follow."""
    viewer_id = info.context.access.require_viewer().id
    return await organization_campaign_page(org_id, viewer_id, status, now, first, before_id)


async def organization_campaigns_total(info: Info, org_id: int, status, now) -> int:
    """How many campaigns `organization_campaigns` pages through."""
    viewer_id = info.context.access.require_viewer().id
    return await organization_campaign_count(org_id, viewer_id, status, now)
