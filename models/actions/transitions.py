"""Moving a task: start, save, submit, send to rework, skip. One transaction each.

Each returns the task as written and the events to publish once the transaction has committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tortoise.transactions import in_transaction

from stepwise.models import clock
from stepwise.models.actions.completion import complete_if_finished
from stepwise.models.actions.entering import choose_assignee, remember_holder
from stepwise.models.actions.issues import NewIssue, has_open_issue, raise_issue
from stepwise.models.actions.task_access import find_task
from stepwise.models.db import sql
from stepwise.models.db.campaigns import Task, TaskEvent
from stepwise.models.db.datasets import Asset, Label
from stepwise.models.errors import DomainError, ErrorCode, invalid_input
from stepwise.models.events import IssueChanged, TaskChanged
from stepwise.models.queries.workflow import WorkflowStep, load_workflow
from stepwise.models.shapes import ShapeDraft, validate_shapes
from stepwise.models.workflow import ACTIVE, EventKind, Move, TaskAction, TaskStatus, plan_transition
from stepwise.permissions.access import Access

MAX_ACTIVE_SECONDS = 7 * 24 * 3600


@dataclass
class Outcome:
    task: Task
    events: list[TaskChanged] = field(default_factory=list)
    issue_events: list[IssueChanged] = field(default_factory=list)


@dataclass(frozen=True)
class Request:
    """What the caller asked for, beyond the action itself."""

    expected_version: int | None = None
    shapes: Sequence[ShapeDraft] | None = None
    active_seconds: float | None = None
    new_issue: NewIssue | None = None


async def _validated_annotation(task: Task, shapes: Sequence[ShapeDraft]) -> list[dict]:
    asset = await Asset.get(id=task.asset_id)
    labels = dict(await Label.filter(version_id=asset.version_id).values_list("name", "id"))
    return validate_shapes(shapes, labels, asset.width, asset.height, "input.shapes")


def _duration(task: Task, active_seconds: float | None, now) -> float:
    if active_seconds is not None:
        if not 0 <= active_seconds <= MAX_ACTIVE_SECONDS:
            raise invalid_input("input.activeSeconds", f"Must be between 0 and {MAX_ACTIVE_SECONDS}.")
        return active_seconds
    since = task.started_at or task.step_entered_at or task.created_at
    return max(0.0, (now - since).total_seconds())


async def _check_issue_rules(task, campaign, move: Move, action: TaskAction, request: Request, viewer_id, outcome):
    if move.needs_open_issue:
        if request.new_issue is not None:
            asset = await Asset.get(id=task.asset_id)
            _, event = await raise_issue(campaign, asset, viewer_id, request.new_issue, task.step_id, "input.issue")
            outcome.issue_events.append(event)
        elif not await has_open_issue(task.asset_id):
            raise DomainError(ErrorCode.ISSUE_REQUIRED, "Raise an issue explaining why (input.issue).", "input.issue")
    if action is TaskAction.SUBMIT and move.status is TaskStatus.DONE and await has_open_issue(task.asset_id):
        raise DomainError(ErrorCode.OPEN_ISSUES, "Resolve the open issues on this asset before the last submit.")


async def _rework_target_holder(task: Task, step: WorkflowStep) -> int | None:
    """Whoever submitted the task at `step` last (null if it never was)."""
    return (
        await TaskEvent.filter(task_id=task.id, step_id=step.id, kind=EventKind.SUBMITTED)
        .order_by("-id").first().values_list("actor_id", flat=True)
    )


def _check_movable(task: Task, expected_version: int | None, viewer_id: int) -> None:
    """Whether this viewer may move the (locked) task now."""
    if expected_version is not None and expected_version != task.version:
        raise DomainError(ErrorCode.CONFLICT, f"The task changed (version {task.version}); reload it.")
    if task.status not in ACTIVE:
        raise DomainError(ErrorCode.INVALID_STATE, f"The task is {task.status}: nothing more can be done on it.")
    if task.assignee_id != viewer_id:
        raise DomainError(ErrorCode.NOT_ASSIGNEE, "Only the task's assignee may do this.")


async def _own_changes(task: Task, action: TaskAction, request: Request, viewer_id: int, now) -> tuple[dict, dict]:
    """What the action changes on the task itself, and what its events record."""
    changes: dict = {"updated_at": now}
    event_extra: dict = {}
    if request.shapes is not None:
        changes.update(annotation=await _validated_annotation(task, request.shapes),
                       annotation_updated_at=now, annotation_updated_by_id=viewer_id)
    if action is TaskAction.START:
        changes["started_at"] = now
    if action in (TaskAction.SUBMIT, TaskAction.SEND_TO_REWORK, TaskAction.SKIP):
        event_extra["duration_seconds"] = _duration(task, request.active_seconds, now)
    if action is TaskAction.SUBMIT:
        changes["submit_count"] = "+1"  # written as submit_count = submit_count + 1
        event_extra["annotation"] = changes.get("annotation", task.annotation)
    return changes, event_extra


async def _placement(task: Task, campaign, steps: list[WorkflowStep], index: int, move: Move, action: TaskAction,
                     now) -> dict:
    """Where the task goes and who holds it there (status, step, assignee columns)."""
    if move.step_index != index:
        await remember_holder(task.id, task.step_id, task.assignee_id)
    if move.enters_step:
        target = steps[move.step_index]
        forced = await _rework_target_holder(task, target) if action is TaskAction.SEND_TO_REWORK else None
        assignee = await choose_assignee(campaign, task.id, target, forced)
        return {"status": move.status, "step_id": target.id, "assignee_id": assignee, "step_entered_at": now,
                "started_at": None}
    if move.step_index is None:
        return {"status": move.status, "step_id": None, "assignee_id": None}
    return {"status": move.status, "assignee_id": task.assignee_id}


async def perform(access: Access, task_id: int, action: TaskAction, request: Request) -> Outcome:
    """Apply `action` to a task as its assignee, in one transaction; see models/workflow.py."""
    viewer = access.require_viewer()
    async with in_transaction():
        task, campaign = await find_task(access, task_id, lock=True)
        await access.check("task.work", campaign.organization_id, campaign.dataset_id, what="Task")
        _check_movable(task, request.expected_version, viewer.id)
        steps = await load_workflow(campaign.id)
        index = next(i for i, s in enumerate(steps) if s.id == task.step_id)
        move = plan_transition(task.status, action, [s.type for s in steps], index)
        outcome = Outcome(task)
        await _check_issue_rules(task, campaign, move, action, request, viewer.id, outcome)
        now = clock.now()
        changes, event_extra = await _own_changes(task, action, request, viewer.id, now)
        changes.update(await _placement(task, campaign, steps, index, move, action, now))
        if not await _write_task(task, changes):
            raise DomainError(ErrorCode.CONFLICT, "The task changed meanwhile; reload it.")
        new_assignee = changes["assignee_id"]
        for kind in move.events:
            extra = event_extra if kind is not EventKind.DONE else {}
            await sql.execute(INSERT_EVENT, [
                task.id, campaign.id, kind.value, task.step_id, viewer.id, new_assignee, now,
                sql.json_param(extra.get("annotation")), extra.get("duration_seconds"),
            ])
            outcome.events.append(TaskChanged(kind, campaign.organization_id, campaign.id, task.id, viewer.id,
                                              new_assignee, task.assignee_id, now))
        if move.status is TaskStatus.DONE:
            await _accept_annotation(task.asset_id, changes.get("annotation", task.annotation), viewer.id, now)
        if move.status not in ACTIVE:
            await complete_if_finished(campaign, now)
        outcome.task = _as_written(task, changes)
    return outcome


INSERT_EVENT = (
    "INSERT INTO task_event (task_id, campaign_id, kind, step_id, actor_id, assignee_id, at, annotation,"
    " duration_seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


async def _write_task(task, changes: dict) -> bool:
    """The conditional UPDATE ... WHERE version = ?: False when someone else moved the task first."""
    columns, params = [], []
    for name, value in changes.items():
        if name == "submit_count":
            columns.append("submit_count = submit_count + 1")
            continue
        columns.append(f"{name} = ?")
        params.append(sql.json_param(value) if name == "annotation" else getattr(value, "value", value))
    statement = f"UPDATE task SET {', '.join(columns)}, version = version + 1 WHERE id = ? AND version = ?"
    return await sql.execute(statement, [*params, task.id, task.version]) == 1


def _as_written(task, changes: dict):
    """The locked row with this transition's changes applied (no re-read: nobody else could
    change it meanwhile)."""
    for name, value in changes.items():
        if name == "submit_count":
            continue  # counted in SQL; the payload does not show it
        setattr(task, name, value)
    task.version += 1
    return task


async def _accept_annotation(asset_id: int, annotation, user_id: int, now) -> None:
    """The workflow finished: the task's annotation becomes the asset's."""
    await Asset.filter(id=asset_id).update(annotation=annotation or [], annotation_updated_at=now,
                                           annotation_updated_by_id=user_id)

