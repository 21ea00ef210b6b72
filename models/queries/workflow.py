"""Loading a campaign's workflow: its steps in order with their assignee lists."""

from __future__ import annotations

from dataclasses import dataclass, field

from stepwise.models.db import sql
from stepwise.models.db.accounts import User
from stepwise.models.db.campaigns import Step
from stepwise.models.workflow import StepType


@dataclass
class WorkflowStep:
    id: int
    type: StepType
    position: int
    assignees: list[int]
    round_robin_next: int
    # Who held the task at this step last (load_task_workflow), for a sticky return.
    holder: int | None = None
    name: str = ""  # load_task_workflow only
    # user id -> the assignee's user columns (a model is built only for the one shown: user_row)
    assignee_rows: dict = field(default_factory=dict)  # load_task_workflow only


def _steps(rows) -> list[WorkflowStep]:
    """Rows (step id, type, position, round-robin position, holder, assignee), in workflow order."""
    steps: dict[int, WorkflowStep] = {}
    for step_id, step_type, position, round_robin_next, holder, user_id in rows:
        step = steps.setdefault(step_id, WorkflowStep(step_id, StepType(step_type), position, [], round_robin_next,
                                                      holder))
        if user_id is not None:
            step.assignees.append(user_id)
    return list(steps.values())


async def load_workflow(campaign_id: int) -> list[WorkflowStep]:
    """The steps in order with their assignees in order: one plain-SQL round trip."""
    return _steps(await sql.fetch(
        "SELECT s.id, s.type, s.position, s.round_robin_next, NULL, a.user_id FROM step s"
        " LEFT JOIN step_assignee a ON a.step_id = s.id WHERE s.campaign_id = ? ORDER BY s.position, a.position",
        [campaign_id],
    ))


async def load_task_workflow(campaign_id: int, task_id: int) -> tuple[list[WorkflowStep], int]:
    """The workflow as a transition needs it, in one round trip: the steps with who held this
    task at each, the task's current version (to see at once whether it moved since read), and
    each step's name and its assignees' user rows, for the payload of the task as moved (so that
    its step and assignee cost no read after the commit)."""
    _, user_names = sql.model_columns(User, "u")
    rows = await sql.fetch(
        "SELECT s.id, s.type, s.position, s.round_robin_next, h.user_id, a.user_id, t.version, s.name,"
        f" {user_names} FROM step s"
        " JOIN task t ON t.id = ? LEFT JOIN task_step_holder h ON h.step_id = s.id AND h.task_id = t.id"
        " LEFT JOIN step_assignee a ON a.step_id = s.id LEFT JOIN \"user\" u ON u.id = a.user_id"
        " WHERE s.campaign_id = ? ORDER BY s.position, a.position",
        [task_id, campaign_id],
    )
    steps = _steps(row[:6] for row in rows)
    names = {row[0]: row[7] for row in rows}
    users = {row[5]: row[8:] for row in rows if row[5] is not None}
    for step in steps:
        step.name = names[step.id]
        step.assignee_rows = {user_id: users[user_id] for user_id in step.assignees}
    return steps, rows[0][6]


def user_row(steps: list[WorkflowStep], user_id: int | None) -> User | None:
    """The User model of an assignee of one of the steps, from load_task_workflow's columns."""
    values = next((s.assignee_rows[user_id] for s in steps if user_id in s.assignee_rows), None)
    return None if values is None else sql.model_from_row(User, sql.model_columns(User)[0], values)


def step_row(step: WorkflowStep, campaign_id: int) -> Step:
    """The step's model row as load_task_workflow read it (with its round-robin position as
    this transaction leaves it)."""
    return Step._init_from_db(id=step.id, campaign_id=campaign_id, name=step.name, type=step.type.value,
                              position=step.position, round_robin_next=step.round_robin_next)


async def lock_step(step: WorkflowStep, task_id: int) -> None:
    """Before attributing at `step`: on PostgreSQL, take the step's row lock and read again what
    attribution there depends on (round-robin position, assignees, who held `task_id` there), so
    that concurrent transactions attribute there one after the other, and a removeDatasetWorker
    (which locks every step of the dataset) either commits before (its worker is gone from the
    list and the holds) or waits for this transaction (and then sees the task it gave them).
    SQLite has one write transaction at a time already (BEGIN IMMEDIATE): nothing to do. (NO KEY
    UPDATE: rows that refer to the step may still be inserted meanwhile, see models/actions/workers.py.)"""
    if sql.is_postgres(sql.current_connection()):
        rows = await sql.fetch(
            "SELECT s.round_robin_next, a.user_id, h.user_id FROM step s"
            " LEFT JOIN step_assignee a ON a.step_id = s.id"
            " LEFT JOIN task_step_holder h ON h.step_id = s.id AND h.task_id = ?"
            " WHERE s.id = ? ORDER BY a.position FOR NO KEY UPDATE OF s", [task_id, step.id])
        step.round_robin_next, step.holder = rows[0][0], rows[0][2]
        step.assignees = [row[1] for row in rows if row[1] is not None]


def round_robin_write(step: WorkflowStep, next_index: int) -> tuple[str, list]:
    """The UPDATE moving a step's round-robin position."""
    return "UPDATE step SET round_robin_next = ? WHERE id = ?", [next_index, step.id]


async def save_round_robin(step: WorkflowStep, next_index: int) -> None:
    if next_index != step.round_robin_next:
        await sql.execute(*round_robin_write(step, next_index))
        step.round_robin_next = next_index
