"""Read side of issues: a campaign's issues a page at a time, and those of the viewer's own tasks."""

from __future__ import annotations

from dataclasses import dataclass

from stepwise.models.db import sql
from stepwise.models.db.issues import Issue, IssueKind, IssueStatus
from stepwise.models.queries.rows import in_list
from stepwise.permissions import visibility
from stepwise.permissions.visibility import ACTIVE_STATUSES


@dataclass(frozen=True)
class IssueCriteria:
    """What a campaign's issue list is narrowed to (the decoded GraphQL `IssueFilter`); all given must hold."""

    status: IssueStatus | None = None
    kind: IssueKind | None = None
    asset_id: int | None = None


def _where(campaign_id: int, criteria: IssueCriteria) -> tuple[str, list]:
    clauses, params = ["campaign_id = ?"], [campaign_id]
    wanted = (("status", criteria.status and criteria.status.value),
              ("kind", criteria.kind and criteria.kind.value), ("asset_id", criteria.asset_id))
    for column, value in wanted:
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    return " AND ".join(clauses), params


async def issue_by_id(issue_id: int) -> Issue | None:
    return await Issue.get_or_none(id=issue_id)


async def issue_rows_by_id(issue_ids: list[int]) -> dict[int, Issue]:
    """Issues by id in one statement (a campaign feed's shared read of a batch's issues)."""
    return {row.id: row for row in await sql.fetch_models(Issue, f"id IN ({in_list(issue_ids)})", list(issue_ids))}


async def issue_page(campaign_id: int, criteria: IssueCriteria, first: int, after_id: int) -> tuple[list[Issue], bool]:
    where, params = _where(campaign_id, criteria)
    rows = await sql.fetch_models(Issue, f"{where} AND id > ?", [*params, after_id], f"ORDER BY id LIMIT {first + 1}")
    return rows[:first], len(rows) > first


async def issue_count(campaign_id: int, criteria: IssueCriteria) -> int:
    """A count over the campaign's issues: off the event loop on SQLite (sql.fetch_scan)."""
    where, params = _where(campaign_id, criteria)
    return (await sql.fetch_scan(f"SELECT COUNT(*) FROM issue WHERE {where}", params))[0][0]


async def my_issues(user_id: int, organization_id: int, status: IssueStatus | None) -> list[Issue]:
    """Issues on the assets of the user's active tasks in the organization, those they may see
    (permissions/visibility.py), oldest first: one statement, off the event loop on SQLite."""
    visible = visibility.issue_filter(user_id, "i")
    columns, select = sql.model_columns(Issue, "i")
    wanted, params = "", []
    if status is not None:
        wanted, params = " AND i.status = ?", [status.value]
    rows = await sql.fetch_scan(
        f"SELECT {select} FROM issue i JOIN task t ON t.campaign_id = i.campaign_id AND t.asset_id = i.asset_id"
        f" JOIN campaign c ON c.id = t.campaign_id"
        f" WHERE t.assignee_id = ? AND t.status IN ({in_list(ACTIVE_STATUSES)}) AND c.organization_id = ?{wanted}"
        f" AND {visible.sql} ORDER BY i.id",
        [user_id, *ACTIVE_STATUSES, organization_id, *params, *visible.params])
    return [sql.model_from_row(Issue, columns, row) for row in rows]
