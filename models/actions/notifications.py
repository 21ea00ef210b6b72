"""Writing notifications: the periodic send (models/notifications.py says what is due) and
marking a user's notifications read."""

from __future__ import annotations

from datetime import datetime

from stepwise.models.db import sql
from stepwise.models.db.notifications import Notification
from stepwise.models.errors import NotFound, invalid_input
from stepwise.models.events import NotificationSent
from stepwise.models.notifications import DUE_SOON_WINDOW, NotificationKind
from stepwise.models.workflow import CampaignStatus
from stepwise.permissions.roles import DatasetRole

MAX_MARKED = 500
ONGOING, COMPLETED = CampaignStatus.ONGOING.value, CampaignStatus.COMPLETED.value
# Which campaigns owe each kind at `now` (? = now, then the end of the DUE_SOON window for it):
# OVERDUE as workflow.displayed_status computes it, never for a campaign without a due date.
DUE = {
    NotificationKind.DUE_SOON: ("c.status = ? AND c.due_date > ? AND c.due_date <= ?", lambda now: [ONGOING, now, now + DUE_SOON_WINDOW]),
    NotificationKind.OVERDUE: ("c.status = ? AND c.due_date < ?", lambda now: [ONGOING, now]),
    NotificationKind.COMPLETED: ("c.status = ? AND c.due_date IS NOT NULL", lambda now: [COMPLETED]),
}


def _insert_due(kind: NotificationKind, now: datetime) -> tuple[str, list]:
    """One INSERT ... SELECT of `kind` for every MANAGER worker of every campaign that owes it and
    does not have it yet. NOT EXISTS skips what was sent before (no id spent on it); the unique
    (user, campaign, kind) with ON CONFLICT DO NOTHING settles two processes sending at once:
    only the row actually inserted comes back (RETURNING), so only it is published."""
    where, params = DUE[kind]
    return (
        "INSERT INTO notification (user_id, campaign_id, kind, created_at, read)"
        " SELECT w.user_id, c.id, ?, ?, ? FROM campaign c"
        " JOIN dataset_worker w ON w.dataset_id = c.dataset_id AND w.role = ?"
        f" WHERE {where} AND NOT EXISTS (SELECT 1 FROM notification n"
        " WHERE n.user_id = w.user_id AND n.campaign_id = c.id AND n.kind = ?)"
        " ON CONFLICT (user_id, campaign_id, kind) DO NOTHING RETURNING id, user_id",
        [kind.value, now, False, DatasetRole.MANAGER.value, *params(now), kind.value],
    )


async def send_due_notifications(now: datetime) -> list[NotificationSent]:
    """Write every notification due at `now` in one transaction (its cost grows with the number
    of campaigns: on SQLite it runs on the bulk connection's thread); the events to publish once
    it has committed."""
    sent: list[NotificationSent] = []
    async with sql.bulk_transaction():
        postgres = sql.is_postgres(sql.current_connection())
        for kind in NotificationKind:
            statement, params = _insert_due(kind, now)
            if postgres:  # Tortoise's asyncpg client drops the rows of a statement starting with INSERT
                statement = f"WITH sent AS ({statement}) SELECT id, user_id FROM sent"
            sent += [NotificationSent(notification_id, user_id) for notification_id, user_id in await sql.fetch(statement, params)]
    return sent


async def mark_read(user_id: int, notification_ids: list[int]) -> list[Notification]:
    """Mark the user's notifications read; all or none: an id that names nothing, or another
    user's notification, is NOT_FOUND and nothing changes. Returned in the order asked, once each."""
    if len(notification_ids) > MAX_MARKED:
        raise invalid_input("input.ids", f"At most {MAX_MARKED} notifications at once.")
    wanted = list(dict.fromkeys(notification_ids))
    if not wanted:
        return []
    marks = ", ".join("?" * len(wanted))
    async with sql.transaction():
        changed = await sql.execute(f"UPDATE notification SET read = ? WHERE user_id = ? AND id IN ({marks})",
                                    [True, user_id, *wanted])
        if changed != len(wanted):
            raise NotFound("Notification")  # rolls the UPDATE back with the transaction
        rows = await sql.fetch_models(Notification, f"user_id = ? AND id IN ({marks})", [user_id, *wanted])
    by_id = {row.id: row for row in rows}
    return [by_id[pk] for pk in wanted]
