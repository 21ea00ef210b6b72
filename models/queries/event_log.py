"""Reading a campaign's event log (campaign_event): positions and keyset pages.

A log row reads as the bus message of its event (models/events.py), so a subscriber handles
events the same whether it is in step with the bus or catching up from the log.
"""

from __future__ import annotations

from stepwise.models.db import sql
from stepwise.models.queries.rows import as_datetime

PAGE = 200
ROW_COLUMNS = "seq, kind, task_id, issue_id, asset_id, actor_id, assignee_id, previous_assignee_id, at"


async def log_position(campaign_id: int) -> int:
    """The seq of the campaign's latest committed event (0: none yet)."""
    rows = await sql.fetch("SELECT MAX(seq) FROM campaign_event WHERE campaign_id = ?", [campaign_id])
    return rows[0][0] or 0


async def worker_positions(organization_id: int, user_id: int) -> dict[int, int]:
    """Each campaign of the organization where the user can have tasks (its dataset lists them as
    a worker: tasks go to workers only) with the seq of its latest event (0: none yet). Nothing
    about the other campaigns: a LABELER learns neither their ids nor their sizes."""
    rows = await sql.fetch("SELECT c.id, (SELECT MAX(seq) FROM campaign_event e WHERE e.campaign_id = c.id)"
                           " FROM campaign c JOIN dataset_worker w ON w.dataset_id = c.dataset_id AND w.user_id = ?"
                           " WHERE c.organization_id = ? ORDER BY c.id", [user_id, organization_id])
    return {campaign_id: seq or 0 for campaign_id, seq in rows}


def message_of_row(row, organization_id: int, campaign_id: int) -> dict:
    """A log row as the bus message its event was published as."""
    seq, kind, task_id, issue_id, asset_id, actor_id, assignee_id, previous_assignee_id, at = row
    at = as_datetime(at).isoformat()
    common = {"seq": seq, "kind": kind, "organization_id": organization_id, "campaign_id": campaign_id,
              "actor_id": actor_id, "at": at}
    if task_id is not None:
        return {**common, "type": "task", "task_id": task_id, "assignee_id": assignee_id,
                "previous_assignee_id": previous_assignee_id}
    return {**common, "type": "issue", "issue_id": issue_id, "asset_id": asset_id}


async def log_page(organization_id: int, campaign_id: int, after_seq: int, limit: int = PAGE) -> list[dict]:
    """The campaign's events after `after_seq`, oldest first, at most `limit` (a keyset read of
    the (campaign_id, seq) index), as bus messages."""
    rows = await sql.fetch(f"SELECT {ROW_COLUMNS} FROM campaign_event WHERE campaign_id = ? AND seq > ?"
                           " ORDER BY seq LIMIT ?", [campaign_id, after_seq, limit])
    return [message_of_row(row, organization_id, campaign_id) for row in rows]
