"""A task's history, pure: the state of each workflow step as seen from the task (RULES.md,
"Transitions": Task.history). No database, web or GraphQL here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

from stepwise.models.workflow import ACTIVE, EventKind, TaskStatus


class StepState(StrEnum):
    DONE = "DONE"  # the task left this step forward (or finished having submitted it)
    CURRENT = "CURRENT"  # the task is at this step now
    UPCOMING = "UPCOMING"  # the task has not reached this step


class RecordedEvent(Protocol):
    """What history reads of a task event (a TaskEvent row or anything with these attributes)."""

    kind: EventKind
    step_id: int | None
    actor_id: int | None


Event = TypeVar("Event", bound=RecordedEvent)


@dataclass(frozen=True)
class StepEntry(Generic[Event]):
    state: StepState
    holder: int | None  # DONE: who submitted there last; CURRENT: the assignee; UPCOMING: nobody
    last_submit: Event | None  # the last SUBMITTED event at this step, whatever its state


def step_history(step_ids: Sequence[int], status: TaskStatus, current_step_id: int | None, assignee_id: int | None,
                 events: Sequence[Event]) -> list[StepEntry[Event]]:
    """One entry per step of the workflow (`step_ids` in order), from the task's events oldest first.

    An active task: the steps before its current one are DONE, its current one CURRENT, later
    ones UPCOMING. A finished task (DONE or SKIPPED): the steps it submitted are DONE, the others
    UPCOMING. Every step shows its last submission, if any: a step sent back to rework shows it.
    """
    last_submit = {e.step_id: e for e in events if e.kind is EventKind.SUBMITTED}
    active = status in ACTIVE
    current = step_ids.index(current_step_id) if active else None
    entries = []
    for position, step_id in enumerate(step_ids):
        submitted = last_submit.get(step_id)
        if active and position == current:
            entries.append(StepEntry(StepState.CURRENT, assignee_id, submitted))
        elif (active and position < current) or (not active and submitted is not None):
            entries.append(StepEntry(StepState.DONE, submitted.actor_id if submitted else None, submitted))
        else:
            entries.append(StepEntry(StepState.UPCOMING, None, submitted))
    return entries
