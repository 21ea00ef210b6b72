"""Domain events, pure: what actions return so that they are published after commit.

Each event has its place in its campaign's event log (`seq`, 1, 2, ... in commit order), given
when the action appends it to the log (models/actions/event_log.py); bus messages carry it so a
subscriber can tell whether it is in step with the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from stepwise.models.workflow import EventKind


@dataclass(frozen=True)
class TaskChanged:
    """One TaskEvent row, as subscribers learn of it."""

    kind: EventKind
    organization_id: int
    campaign_id: int
    task_id: int
    actor_id: int | None
    assignee_id: int | None
    previous_assignee_id: int | None
    at: datetime
    seq: int = 0

    def to_message(self) -> dict:
        # Flat fields: a shallow copy is enough (dataclasses.asdict deep-copies, 10x slower).
        return {**vars(self), "type": "task", "kind": self.kind.value, "at": self.at.isoformat()}


@dataclass(frozen=True)
class IssueChanged:
    kind: str  # CREATED, REPLIED, RESOLVED, REOPENED
    organization_id: int
    campaign_id: int
    issue_id: int
    asset_id: int
    actor_id: int | None
    at: datetime
    seq: int = 0

    def to_message(self) -> dict:
        return {**vars(self), "type": "issue", "at": self.at.isoformat()}


@dataclass(frozen=True)
class NotificationSent:
    """A notification row just written for `user_id`."""

    notification_id: int
    user_id: int

    def to_message(self) -> dict:
        return dict(vars(self))


@dataclass(frozen=True)
class TokenRevoked:
    """A token was revoked (logOut): every process closes the websockets opened with it."""

    token_digest: str

    def to_message(self) -> dict:
        return dict(vars(self))


@dataclass(frozen=True)
class TasksCreated:
    """Many tasks created at once (a launch, new assets): their CREATED (and DONE) events are the
    log's seqs first_seq..last_seq; the message names the range, subscribers read the log."""

    organization_id: int
    campaign_id: int
    first_seq: int
    last_seq: int

    def to_message(self) -> dict:
        return {**vars(self), "type": "range"}
