"""What the fields of issues fetch, and the issue lists of assets and campaigns
(schema/types/issues.py wraps the rows)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stepwise.models.queries.issues import IssueFilter, issue_count, issue_page

if TYPE_CHECKING:
    from stepwise.schema.context import Info


async def asset_issues(info: Info, asset_id: int, status) -> list:
    """The asset's issue rows, oldest first; only those in `status` when given."""
    rows = await info.context.loaders.issues_by_asset.load(asset_id)
    return [r for r in rows if status is None or r.status.value == status.value]


async def issue_comments(info: Info, issue_id: int) -> list:
    return await info.context.loaders.comments_by_issue.load(issue_id)


async def campaign_issue_page(campaign_id: int, issue_filter: IssueFilter, first: int,
                              after_id: int) -> tuple[list, bool]:
    """Up to `first` issue rows of the campaign after `after_id`, and whether more follow."""
    return await issue_page(campaign_id, issue_filter, first, after_id)


async def campaign_issue_count(campaign_id: int, issue_filter: IssueFilter) -> int:
    return await issue_count(campaign_id, issue_filter)
