"""Domain events, pure: what actions return so that they are published after commit."""

from __future__ import annotations

from dataclasses import asdict, dataclass
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

    def to_message(self) -> dict:
        message = asdict(self)
        message["kind"] = self.kind.value
        message["at"] = self.at.isoformat()
        return message


@dataclass(frozen=True)
class IssueChanged:
    kind: str  # CREATED, REPLIED, RESOLVED, REOPENED
    organization_id: int
    campaign_id: int
    issue_id: int
    asset_id: int
    actor_id: int | None
    at: datetime

    def to_message(self) -> dict:
        message = asdict(self)
        message["at"] = self.at.isoformat()
        return message
