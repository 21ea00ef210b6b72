"""Read side of issues: a campaign's issues a page at a time, and those of the viewer's own tasks."""

from __future__ import annotations

from dataclasses import dataclass

from stepwise.models.db.campaigns import Campaign, Task
from stepwise.models.db.issues import Issue, IssueKind, IssueStatus
from stepwise.models.workflow import ACTIVE


@dataclass(frozen=True)
class IssueFilter:
    status: IssueStatus | None = None
    kind: IssueKind | None = None
    asset_id: int | None = None


def _filtered(campaign_id: int, issue_filter: IssueFilter):
    query = Issue.filter(campaign_id=campaign_id)
    if issue_filter.status is not None:
        query = query.filter(status=issue_filter.status)
    if issue_filter.kind is not None:
        query = query.filter(kind=issue_filter.kind)
    if issue_filter.asset_id is not None:
        query = query.filter(asset_id=issue_filter.asset_id)
    return query


async def issue_page(campaign_id: int, issue_filter: IssueFilter, first: int, after_id: int) -> tuple[list[Issue], bool]:
    rows = await _filtered(campaign_id, issue_filter).filter(id__gt=after_id).order_by("id").limit(first + 1)
    return rows[:first], len(rows) > first


async def issue_count(campaign_id: int, issue_filter: IssueFilter) -> int:
    return await _filtered(campaign_id, issue_filter).count()


async def my_issues(user_id: int, organization_id: int, status: IssueStatus | None) -> list[Issue]:
    """Issues on the assets of the user's active tasks in the organization, oldest first."""
    campaign_ids = Campaign.filter(organization_id=organization_id).values_list("id", flat=True)
    asset_ids = Task.filter(assignee_id=user_id, status__in=list(ACTIVE), campaign_id__in=await campaign_ids)
    query = Issue.filter(asset_id__in=await asset_ids.values_list("asset_id", flat=True))
    if status is not None:
        query = query.filter(status=status)
    return await query.order_by("id")
