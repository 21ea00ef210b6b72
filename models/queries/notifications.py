"""Read side of notifications: a user's list, newest first, a keyset page at a time."""

from __future__ import annotations

from stepwise.models.db import sql
from stepwise.models.db.notifications import Notification


async def notifications_page(user_id: int, unread_only: bool, limit: int, before_id: int | None) -> list[Notification]:
    """Up to `limit` of the user's notifications with an id below `before_id` (all without it),
    newest first: one range of the (user_id, id) index."""
    where, params = "user_id = ?", [user_id]
    if before_id is not None:
        where, params = where + " AND id < ?", [*params, before_id]
    if unread_only:
        where, params = where + " AND read = ?", [*params, False]
    return await sql.fetch_models(Notification, where, params, f"ORDER BY id DESC LIMIT {int(limit)}")


async def notification_of_user(notification_id: int, user_id: int) -> Notification | None:
    """The notification if it is this user's (anyone else's reads like a missing one)."""
    rows = await sql.fetch_models(Notification, "id = ? AND user_id = ?", [notification_id, user_id])
    return rows[0] if rows else None


async def notifications_after(user_id: int, after_id: int) -> list[Notification]:
    """The user's notifications with an id above `after_id`, oldest first (a subscription's catch-up)."""
    return await sql.fetch_models(Notification, "user_id = ? AND id > ?", [user_id, after_id], "ORDER BY id")


async def latest_notification_id(user_id: int) -> int:
    rows = await sql.fetch("SELECT COALESCE(MAX(id), 0) FROM notification WHERE user_id = ?", [user_id])
    return rows[0][0]
