"""Moving a task: start, save, submit, send to rework, skip. One transaction each.

Each returns the task as written and the events to publish once the transaction has committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from stepwise.models import clock
from stepwise.models.actions.completion import completion_write
from stepwise.models.actions.entering import choose_assignee, holder_write
from stepwise.models.actions.event_log import log_append, log_append_then, with_seqs
from stepwise.models.actions.issues import NewIssue, has_open_issue, raise_issue
from stepwise.models.actions.rollups import (
    completion_rollup_writes,
    quality_counts_write,
    task_count_key,
    task_count_write,
    task_moves,
)
from stepwise.models.actions.task_access import find_task
from stepwise.models.actions.task_writes import TaskEventRow, planned_columns, task_event_writes, task_update
from stepwise.models.db import sql
from stepwise.models.db.campaigns import Campaign
from stepwise.models.db.datasets import Asset
from stepwise.models.errors import DomainError, ErrorCode, invalid_input
from stepwise.models.events import IssueChanged, TaskChanged
from stepwise.models.queries.rows import TaskRow
from stepwise.models.queries.workflow import WorkflowStep, load_task_workflow, round_robin_write, step_row, user_row
from stepwise.models.shapes import ShapeDraft, validate_shapes
from stepwise.models.workflow import (
    TRANSITIONS,
    Actor,
    Change,
    Holder,
    Recorded,
    TaskAction,
    check_actor,
    check_allowed,
    plan_change,
)
from stepwise.permissions.access import Access
from stepwise.permissions.operations import operation

MAX_ACTIVE_SECONDS = 7 * 24 * 3600
# The contract operation each action is asked through; its guard comes from the policy table.
OPERATION_OF_ACTION = {
    TaskAction.START: operation("Mutation.startTask"),
    TaskAction.SAVE: operation("Mutation.saveAnnotation"),
    TaskAction.SUBMIT: operation("Mutation.submitTask"),
    TaskAction.SEND_TO_REWORK: operation("Mutation.sendTaskToRework"),
    TaskAction.SKIP: operation("Mutation.skipTask"),
}


@dataclass
class Outcome:
    task: TaskRow
    campaign: Campaign | None = None  # the task's campaign, for who may see the result
    events: list[TaskChanged] = field(default_factory=list)
    issue_events: list[IssueChanged] = field(default_factory=list)
    # Rows the transaction read that the payload may show (the task's step and holder as moved),
    # for the resolver to prime its loaders with: no read of them after the commit.
    known_rows: list = field(default_factory=list)


@dataclass(frozen=True)
class Request:
    """What the caller asked for, beyond the action itself."""

    expected_version: int | None = None
    shapes: Sequence[ShapeDraft] | None = None
    active_seconds: float | None = None
    new_issue: NewIssue | None = None


async def _validated_annotation(task: TaskRow, shapes: Sequence[ShapeDraft]) -> list[dict]:
    """The shapes checked against the asset's size and its version's labels (one query)."""
    rows = await sql.fetch("SELECT a.width, a.height, l.name, l.id FROM asset a"
                           " LEFT JOIN label l ON l.version_id = a.version_id WHERE a.id = ?", [task.asset_id])
    labels = {name: label_id for _, _, name, label_id in rows if name is not None}
    return validate_shapes(shapes, labels, rows[0][0], rows[0][1], "input.shapes")


def _duration(task: TaskRow, active_seconds: float | None, now) -> float:
    if active_seconds is not None:
        if not 0 <= active_seconds <= MAX_ACTIVE_SECONDS:
            raise invalid_input("input.activeSeconds", f"Must be between 0 and {MAX_ACTIVE_SECONDS}.")
        return active_seconds
    since = task.started_at or task.step_entered_at or task.created_at
    return max(0.0, (now - since).total_seconds())


async def _check_issue_rules(task, campaign, change: Change, request: Request, viewer_id, outcome):
    if change.move.needs_open_issue:
        if request.new_issue is not None:
            asset = await Asset.get(id=task.asset_id)
            _, event = await raise_issue(campaign, asset, viewer_id, request.new_issue, task.step_id, "input.issue")
            outcome.issue_events.append(event)
        elif not await has_open_issue(task.asset_id):
            raise DomainError(ErrorCode.ISSUE_REQUIRED, "Raise an issue explaining why (input.issue).", "input.issue")
    if change.refuses_open_issues and await has_open_issue(task.asset_id):
        raise DomainError(ErrorCode.OPEN_ISSUES, "Resolve the open issues on this asset before the last submit.")


def _check_movable(task: TaskRow, action: TaskAction, expected_version: int | None, viewer_id: int) -> None:
    """Whether this viewer may move the task as read (the UPDATE checks it did not move since)."""
    if expected_version is not None and expected_version != task.version:
        raise DomainError(ErrorCode.CONFLICT, f"The task changed (version {task.version}); reload it.")
    check_allowed(task.status, action)
    check_actor(action, task.assignee_id, viewer_id)


async def _own_changes(task: TaskRow, action: TaskAction, request: Request, viewer_id: int, now) -> tuple[dict, dict]:
    """What the request changes on the task (its annotation), and what the action's events
    record (TRANSITIONS: duration, annotation); checked before the write lock."""
    rule = TRANSITIONS[action]
    changes: dict = {"updated_at": now}
    recorded: dict = {}
    if request.shapes is not None:
        changes.update(annotation=await _validated_annotation(task, request.shapes),
                       annotation_updated_at=now, annotation_updated_by_id=viewer_id)
    if Recorded.DURATION in rule.records:
        recorded["duration_seconds"] = _duration(task, request.active_seconds, now)
    if Recorded.ANNOTATION in rule.records:
        recorded["annotation"] = changes.get("annotation", task.annotation)
    return changes, recorded


async def _placement(task: TaskRow, campaign, steps: list[WorkflowStep], change: Change) -> tuple[int | None, list]:
    """Who holds the task after `change` (Holder in TRANSITIONS), and the writes that go with it
    (the holder of the step it leaves, the round-robin position of the step it enters)."""
    writes = [holder_write(task.id, task.step_id, task.assignee_id)] if change.leaves_step else []
    if change.holder is Holder.NOBODY:
        return None, writes
    if change.holder is Holder.SAME:
        return task.assignee_id, writes
    target = steps[change.move.step_index]
    # LAST_HOLDER (a rework): whoever held it there last, i.e. submitted it there (a task leaves an
    # ANNOTATION step only by its assignee's submit, or for good by a skip).
    assignee, next_index = await choose_assignee(campaign, task.id, task.assignee_id, target,
                                                 back_to_holder=change.holder is Holder.LAST_HOLDER)
    if next_index != target.round_robin_next:
        writes.append(round_robin_write(target, next_index))
        target.round_robin_next = next_index  # as this transaction leaves it (step_row)
    return assignee, writes


async def perform(access: Access, task_id: int, action: TaskAction, request: Request) -> Outcome:
    """Apply `action` to a task as its assignee, in one transaction; see models/workflow.py.

    The task itself is read before the write lock: the conditional UPDATE on its version refuses
    the change (CONFLICT) if it moved meanwhile. Under the lock: the workflow (round-robin
    positions, this task's past holders; on PostgreSQL the row lock of a step it attributes at),
    the issue rules, then every write in one round trip.
    """
    if TRANSITIONS[action].actor is not Actor.ASSIGNEE:
        raise ValueError(f"{action} is not an assignee's action (see models/actions/reassign.py)")
    viewer = access.require_viewer()
    task, campaign = await find_task(access, task_id)
    await access.check(OPERATION_OF_ACTION[action], campaign.organization_id, campaign.dataset_id, what="Task")
    _check_movable(task, action, request.expected_version, viewer.id)
    now = clock.now()
    changes, recorded = await _own_changes(task, action, request, viewer.id, now)
    async with sql.transaction():
        return await _move(task, campaign, action, request, viewer.id, changes, recorded, now)


async def _move(task: TaskRow, campaign, action: TaskAction, request: Request, viewer_id: int, changes: dict,
                recorded: dict, now) -> Outcome:
    """The transition's reads under the write lock and its writes, in the caller's transaction."""
    steps, version = await load_task_workflow(campaign.id, task.id)
    if version != task.version:  # it moved since read: answer that, before any other rule
        raise DomainError(ErrorCode.CONFLICT, "The task changed meanwhile; reload it.")
    index = next(i for i, s in enumerate(steps) if s.id == task.step_id)
    change = plan_change(task.status, action, [s.type for s in steps], index)
    outcome = Outcome(task, campaign)
    await _check_issue_rules(task, campaign, change, request, viewer_id, outcome)
    new_assignee, placement_writes = await _placement(task, campaign, steps, change)
    new_step = None if change.move.step_index is None else steps[change.move.step_index].id
    changes = {**changes, **planned_columns(change, now, task.status, step_id=new_step, assignee_id=new_assignee)}
    own_events = TRANSITIONS[action].events
    events = [TaskEventRow(task.id, campaign.id, kind, task.step_id, viewer_id, new_assignee, now,
                           **(recorded if kind in own_events else {}))
              for kind in change.move.events]
    writes = [task_update(changes, [(task.id, task.version)]), *placement_writes, task_event_writes(events)]
    writes += completion_rollup_writes(events)  # the completion's hour and day in the analytics rollups
    counts = task_count_write(task_moves([(_count_key(task, campaign.id, {}), _count_key(task, campaign.id, changes),
                                           1 if change.counts_submit else 0)]))
    if counts is not None:  # the task's status, step or holder changed: progress counts move
        writes.append(counts)
    # Up to here no write reads what another one writes: PostgreSQL sends them as one statement.
    independent = len(writes)
    outcome.events = [TaskChanged(kind, campaign.organization_id, campaign.id, task.id, viewer_id, new_assignee,
                                  task.assignee_id, now) for kind in change.move.events]
    if change.accepts_annotation:
        writes += _accept_annotation(task.asset_id, changes.get("annotation", task.annotation), viewer_id, now)
    if change.may_complete_campaign:
        writes.append(completion_write(campaign.id, now))
    # Last: the campaign's event log (on PostgreSQL its seq's row lock, held until commit).
    logged = [*outcome.issue_events, *outcome.events]
    changed, seqs = await _write(writes, independent, campaign.id, logged)
    if changed != 1:
        raise DomainError(ErrorCode.CONFLICT, "The task changed meanwhile; reload it.")
    logged = with_seqs(logged, seqs)
    outcome.issue_events, outcome.events = logged[:len(outcome.issue_events)], logged[len(outcome.issue_events):]
    outcome.task = _as_written(task, changes)
    outcome.known_rows = _known_rows(steps, campaign.id, outcome.task)
    return outcome


async def _write(writes: list, independent: int, campaign_id: int, logged: list) -> tuple[int, list]:
    """Run the writes, then append `logged` to the event log; the rows the task's UPDATE (the
    first write) changed, and the log's seq rows. On PostgreSQL, when every write is independent,
    the append goes in the same statement, after them (sql.Then): the seq's row lock, which every
    change of the campaign waits for, is then held from that one round trip to the commit, with
    no round trip (nor turn of the event loop) in between."""
    postgres = sql.is_postgres(sql.current_connection())
    if postgres and independent == len(writes):
        counts, rows = await sql.execute_merged_then(writes, log_append_then(campaign_id, logged))
        return counts[0], rows
    results = await sql.execute_all_returning([*writes, log_append(postgres, campaign_id, logged)],
                                              together=independent)
    return results[0][0], results[-1][1]


def _known_rows(steps: list[WorkflowStep], campaign_id: int, task: TaskRow) -> list:
    """The step the task is at and its holder, as the transaction read them."""
    rows = [step_row(s, campaign_id) for s in steps if s.id == task.step_id]
    holder = user_row(steps, task.assignee_id)
    return rows if holder is None else [*rows, holder]


def _count_key(task: TaskRow, campaign_id: int, changes: dict) -> tuple:
    """The task_count key of the task as read, or with `changes` applied."""
    return task_count_key(campaign_id, changes.get("status", task.status), changes.get("step_id", task.step_id),
                          changes.get("assignee_id", task.assignee_id))


def _as_written(task, changes: dict):
    """The row as read with this transition's changes applied (no re-read: the conditional
    UPDATE proved nobody changed it in between)."""
    for name, value in changes.items():
        if name == "submit_count":
            continue  # counted in SQL; the payload does not show it
        setattr(task, name, value)
    task.version += 1
    return task


ASSET_LOCK = "SELECT id FROM asset WHERE id = ? FOR NO KEY UPDATE"


def _accept_annotation(asset_id: int, annotation, user_id: int, now) -> list[tuple[str, list]]:
    """The workflow finished: the task's annotation becomes the asset's, and the version's quality
    counts lose the asset's previous shapes (if any) and gain the new ones."""
    postgres = sql.is_postgres(sql.current_connection())
    # PostgreSQL: the asset's row lock first, so that the shapes taken out are those of the
    # annotation this write replaces, not of one a concurrent import is replacing too (each
    # statement reads the last commit: taken out twice). Imports lock their assets the same way.
    lock = [(ASSET_LOCK, [asset_id])] if postgres else []
    return [*lock, quality_counts_write(postgres, "a.id = ?", [asset_id], -1),
            ("UPDATE asset SET annotation = ?, annotation_updated_at = ?, annotation_updated_by_id = ? WHERE id = ?",
             [sql.json_param(annotation or []), now, user_id, asset_id]),
            quality_counts_write(postgres, "a.id = ?", [asset_id], 1)]
