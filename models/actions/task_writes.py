"""The writes of task rows and task events, built in one place.

`task_update` is the conditional UPDATE of one task (a transition) or many (a reassignment);
`task_event_writes` the INSERT of task events, as rows (transitions, reassignments) or one per
task of a selection, set-based (launch, new assets). Each returns one statement for
`sql.execute` or `sql.execute_all`; `planned_columns` turns a planned Change into task columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from stepwise.models.db import sql
from stepwise.models.workflow import Change, EventKind, Holder, Stamp, TaskStatus

EVENT_COLUMNS = ("task_id", "campaign_id", "kind", "step_id", "actor_id", "assignee_id", "at", "annotation",
                 "duration_seconds")


@dataclass(frozen=True)
class TaskEventRow:
    """One task_event row: `step_id` is where the task was, `assignee_id` who holds it after."""

    task_id: int
    campaign_id: int
    kind: EventKind
    step_id: int | None
    actor_id: int | None
    assignee_id: int | None
    at: datetime
    annotation: list | None = None  # SUBMITTED: the annotation as submitted
    duration_seconds: float | None = None  # leaving a step: how long the visit took


@dataclass(frozen=True)
class EventPerTask:
    """One event of `kind` for every task matching `where` (SQL on table `task`), in id order,
    with the task's current step and assignee; nothing recorded beyond them."""

    kind: EventKind
    actor_id: int | None
    at: datetime
    where: str
    params: Sequence


def task_event_writes(events: Sequence[TaskEventRow] | EventPerTask) -> tuple[str, list]:
    """The INSERT of these task events, in order: rows (one VALUES list), or an INSERT ... SELECT
    over the tasks an EventPerTask selects, so that a launch of 100,000 tasks stays one statement."""
    if isinstance(events, EventPerTask):
        columns = ", ".join(EVENT_COLUMNS[:7])
        return (f"INSERT INTO task_event ({columns}) SELECT id, campaign_id, '{events.kind.value}', step_id, ?,"
                f" assignee_id, ? FROM task WHERE {events.where} ORDER BY id", [events.actor_id, events.at, *events.params])
    if not events:
        raise ValueError("task_event_writes() needs at least one event")
    marks = "(" + ", ".join("?" * len(EVENT_COLUMNS)) + ")"
    params = [value for e in events for value in (
        e.task_id, e.campaign_id, e.kind.value, e.step_id, e.actor_id, e.assignee_id, e.at,
        sql.json_param(e.annotation), e.duration_seconds)]
    return f"INSERT INTO task_event ({', '.join(EVENT_COLUMNS)}) VALUES {', '.join([marks] * len(events))}", params


def planned_columns(change: Change, now: datetime, status_before: TaskStatus, *, step_id: int | None,
                    assignee_id: int | None) -> dict:
    """The task columns a planned change sets besides updated_at and the annotation: status, step,
    holder, timestamps, counters (`step_id`, `assignee_id`: where it goes and who holds it)."""
    columns: dict = {}
    if change.move.status is not status_before:
        columns["status"] = change.move.status
    if change.leaves_step:
        columns["step_id"] = step_id
    if change.holder is not Holder.SAME:
        columns["assignee_id"] = assignee_id
    for name, stamp in (("started_at", change.started_at), ("step_entered_at", change.step_entered_at)):
        if stamp is not Stamp.KEEP:
            columns[name] = now if stamp is Stamp.NOW else None
    if change.counts_submit:
        columns["submit_count"] = "+1"  # written as submit_count = submit_count + 1
    return columns


def task_update(columns: dict, versions: Sequence[tuple[int, int]]) -> tuple[str, list]:
    """The conditional UPDATE of tasks given as (id, version read): it changes no row of a task
    someone else moved since (the caller compares the rows changed with len(versions))."""
    assignments, params = [], []
    for name, value in columns.items():
        if name == "submit_count":
            assignments.append("submit_count = submit_count + 1")
            continue
        assignments.append(f"{name} = ?")
        params.append(sql.json_param(value) if name == "annotation" else getattr(value, "value", value))
    update = f"UPDATE task SET {', '.join(assignments)}, version = version + 1"
    if len(versions) == 1:
        return f"{update} WHERE id = ? AND version = ?", [*params, *versions[0]]
    # Many at once: (id, version) pairs; CASTs type them on PostgreSQL, and SQLite still reads by id.
    pairs = ", ".join(["(CAST(? AS INTEGER), CAST(? AS INTEGER))"] * len(versions))
    return (f"{update} WHERE (id, version) IN (SELECT column1, column2 FROM (VALUES {pairs}) AS expected)",
            [*params, *(value for pair in versions for value in pair)])
