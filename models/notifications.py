"""Notifications, pure: their kinds and when each is due (RULES.md, Notifications).

A campaign with a due date notifies each of its dataset's MANAGER workers once per kind:
DUE_SOON when it is ONGOING and due within DUE_SOON_WINDOW, OVERDUE when it is ONGOING past its
due date (workflow.displayed_status), COMPLETED when it is COMPLETED. "Once" is a unique row per
(user, campaign, kind), so several server processes never notify twice
(models/actions/notifications.py writes them).
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

DUE_SOON_WINDOW = timedelta(hours=24)


class NotificationKind(StrEnum):
    DUE_SOON = "DUE_SOON"
    OVERDUE = "OVERDUE"
    COMPLETED = "COMPLETED"
