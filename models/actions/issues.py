"""Issues on assets: raising one (alone, or with a rework or skip) and checking for open ones."""

from __future__ import annotations

import math
from dataclasses import dataclass

from stepwise.models import clock
from stepwise.models.db.campaigns import Campaign
from stepwise.models.db.datasets import Asset
from stepwise.models.db.issues import CommentAction, Issue, IssueComment, IssueKind, IssueStatus
from stepwise.models.errors import DomainError, ErrorCode, invalid_input
from stepwise.models.events import IssueChanged
from stepwise.models.workflow import CampaignStatus

BODY_MAX = 10_000


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
    return await Issue.filter(asset_id=asset_id, status=IssueStatus.OPEN).exists()
