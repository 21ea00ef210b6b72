"""Issues on assets: raising one (alone, or with a rework or skip), the comment thread
(reply, resolve, re-open), and checking for open ones."""

from __future__ import annotations

import math
from dataclasses import dataclass

from stepwise.models import clock
from stepwise.models.actions.event_log import append_events
from stepwise.models.actions.task_access import find_issue, find_task_of_asset
from stepwise.models.db import sql
from stepwise.models.db.campaigns import Campaign
from stepwise.models.db.datasets import Asset
from stepwise.models.db.issues import CommentAction, Issue, IssueComment, IssueKind, IssueStatus
from stepwise.models.errors import DomainError, ErrorCode, invalid_input
from stepwise.models.events import IssueChanged
from stepwise.models.workflow import CampaignStatus
from stepwise.permissions.access import Access
from stepwise.permissions.operations import operation

BODY_MAX = 10_000
CREATE_ISSUE = operation("Mutation.createIssue")


@dataclass(frozen=True)
class NewIssue:
    kind: IssueKind
    body: str
    zone: tuple[float, float, float, float] | None = None  # x, y, width, height


def check_zone(issue: NewIssue, asset: Asset, field: str) -> None:
    if issue.kind is IssueKind.IMAGE:
        if issue.zone is not None:
            raise invalid_input(f"{field}.zone", "IMAGE issues take no zone.")
        return
    if issue.zone is None:
        raise invalid_input(f"{field}.zone", "ZONE issues need a zone.")
    x, y, width, height = issue.zone
    if not all(math.isfinite(v) for v in issue.zone) or width <= 0 or height <= 0:
        raise invalid_input(f"{field}.zone", "The zone needs a positive width and height.")
    if x < 0 or y < 0 or x + width > asset.width or y + height > asset.height:
        raise invalid_input(f"{field}.zone", f"The zone must lie inside the asset ({asset.width}x{asset.height}).")


def require_ongoing(campaign: Campaign) -> None:
    if campaign.status is not CampaignStatus.ONGOING:  # OVERDUE is stored as ONGOING
        raise DomainError(ErrorCode.CAMPAIGN_NOT_ONGOING, "Issues exist only while the campaign runs.")


async def raise_issue(
    campaign: Campaign, asset: Asset, author_id: int, issue: NewIssue, step_id: int | None, field: str
) -> tuple[Issue, IssueChanged]:
    """Write an OPEN issue with its OPENED comment; the caller owns the transaction."""
    require_ongoing(campaign)
    check_zone(issue, asset, field)
    body = issue.body.strip()
    if not body:
        raise invalid_input(f"{field}.body", "Describe the issue.")
    if len(body) > BODY_MAX:
        raise invalid_input(f"{field}.body", f"At most {BODY_MAX} characters.")
    now = clock.now()
    x, y, width, height = issue.zone or (None, None, None, None)
    row = await Issue.create(
        campaign=campaign, asset_id=asset.id, kind=issue.kind, status=IssueStatus.OPEN, zone_x=x, zone_y=y,
        zone_width=width, zone_height=height, author_id=author_id, step_id=step_id, created_at=now,
    )
    await IssueComment.create(issue=row, author_id=author_id, body=body, action=CommentAction.OPENED, created_at=now)
    event = IssueChanged("CREATED", campaign.organization_id, campaign.id, row.id, asset.id, author_id, now)
    return row, event


async def has_open_issue(asset_id: int) -> bool:
    return bool(await sql.fetch("SELECT 1 FROM issue WHERE asset_id = ? AND status = ? LIMIT 1",
                                [asset_id, IssueStatus.OPEN.value]))


async def create_issue(access: Access, asset_id: int, issue: NewIssue) -> tuple[Issue, IssueChanged]:
    """Raise an issue on an asset whose task the viewer can see, at the task's current step."""
    viewer = access.require_viewer()
    task, campaign = await find_task_of_asset(access, asset_id)
    await access.check(CREATE_ISSUE, campaign.organization_id, campaign.dataset_id, what="Asset")
    async with sql.transaction():
        asset = await Asset.get(id=asset_id)
        row, event = await raise_issue(campaign, asset, viewer.id, issue, task.step_id, "input")
        [event] = await append_events(campaign.id, [event])  # a rework or skip logs its own
        return row, event


# What each comment action needs and does: (required status, new status, event kind).
COMMENT_RULES = {
    CommentAction.REPLIED: (None, None, "REPLIED"),
    CommentAction.RESOLVED: (IssueStatus.OPEN, IssueStatus.RESOLVED, "RESOLVED"),
    CommentAction.REOPENED: (IssueStatus.RESOLVED, IssueStatus.OPEN, "REOPENED"),
}
# The contract operation each comment action is asked through.
COMMENT_OPERATIONS = {
    CommentAction.REPLIED: operation("Mutation.replyToIssue"),
    CommentAction.RESOLVED: operation("Mutation.resolveIssue"),
    CommentAction.REOPENED: operation("Mutation.reopenIssue"),
}


async def comment_issue(access: Access, issue_id: int, action: CommentAction, body: str | None) -> tuple[Issue, IssueChanged]:
    """Reply to, resolve or re-open an issue; each adds a comment to the thread."""
    viewer = access.require_viewer()
    issue, campaign = await find_issue(access, issue_id)
    await access.check(COMMENT_OPERATIONS[action], campaign.organization_id, campaign.dataset_id, what="Issue")
    text = (body or "").strip()
    if action is CommentAction.REPLIED and not text:
        raise invalid_input("input.body", "A reply needs a body.")
    if len(text) > BODY_MAX:
        raise invalid_input("input.body", f"At most {BODY_MAX} characters.")
    required, new_status, kind = COMMENT_RULES[action]
    async with sql.transaction():
        campaign = await Campaign.get(id=campaign.id)
        require_ongoing(campaign)
        issue = await Issue.filter(id=issue.id).select_for_update().get()
        if required is not None and issue.status is not required:
            raise DomainError(ErrorCode.INVALID_STATE, f"The issue is {issue.status}.")
        now = clock.now()
        if new_status is not None:
            resolved = new_status is IssueStatus.RESOLVED
            await Issue.filter(id=issue.id).update(
                status=new_status, resolved_at=now if resolved else None, resolved_by_id=viewer.id if resolved else None
            )
        await IssueComment.create(issue_id=issue.id, author_id=viewer.id, body=text, action=action, created_at=now)
        issue = await Issue.get(id=issue.id)
        [event] = await append_events(campaign.id, [
            IssueChanged(kind, campaign.organization_id, campaign.id, issue.id, issue.asset_id, viewer.id, now)])
    return issue, event
