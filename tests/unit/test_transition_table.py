"""The full planned change of each transition (models/workflow.py: TRANSITIONS, plan_change,
check_allowed, check_actor) against RULES.md "Transitions" and the product rules it implies
(progress counts submits, durations run from startTask or entering the step, a rework goes back
to whoever submitted there). Expectations are written here from the rules, never from the module."""

from __future__ import annotations

import pytest

from stepwise.models.errors import DomainError, ErrorCode
from stepwise.models.workflow import (
    TRANSITIONS,
    Actor,
    Change,
    EventKind,
    Holder,
    Recorded,
    Stamp,
    StepType,
    TaskAction,
    TaskStatus,
    check_actor,
    check_allowed,
    plan_change,
    plan_transition,
)
from stepwise.permissions.policy import MANAGER, POLICY, allows
from stepwise.permissions.roles import DatasetRole

A, R = StepType.ANNOTATION, StepType.REVIEW
ACTIVE_STATUSES = (TaskStatus.IN_PROGRESS, TaskStatus.TO_REWORK)
FINISHED_STATUSES = (TaskStatus.DONE, TaskStatus.SKIPPED)
NOTHING = frozenset()
DURATION = frozenset({Recorded.DURATION})
DURATION_AND_ANNOTATION = frozenset({Recorded.DURATION, Recorded.ANNOTATION})


def error_code(call, *args) -> ErrorCode:
    with pytest.raises(DomainError) as caught:
        call(*args)
    return caught.value.code


def effects(change: Change) -> dict:
    """Everything but the move (tests/unit/test_workflow.py checks the move)."""
    return {name: getattr(change, name) for name in (
        "holder", "started_at", "step_entered_at", "counts_submit", "records", "leaves_step", "refuses_open_issues",
        "accepts_annotation", "may_complete_campaign")}


def expected(holder, *, started_at=Stamp.KEEP, step_entered_at=Stamp.KEEP, counts_submit=False, records=NOTHING,
             leaves_step=False, refuses_open_issues=False, accepts_annotation=False, may_complete_campaign=False):
    return {"holder": holder, "started_at": started_at, "step_entered_at": step_entered_at,
            "counts_submit": counts_submit, "records": records, "leaves_step": leaves_step,
            "refuses_open_issues": refuses_open_issues, "accepts_annotation": accepts_annotation,
            "may_complete_campaign": may_complete_campaign}


# A step entered afresh: its clock starts now and startTask has not happened there yet.
ENTERING = {"started_at": Stamp.CLEAR, "step_entered_at": Stamp.NOW, "leaves_step": True}


@pytest.mark.parametrize("status", ACTIVE_STATUSES)
def test_start_marks_when_the_assignee_began_and_changes_nothing_else(status):
    change = plan_change(status, TaskAction.START, (A, R), 0)
    assert (change.move.status, change.move.step_index) == (status, 0)
    assert effects(change) == expected(Holder.SAME, started_at=Stamp.NOW)


@pytest.mark.parametrize("status", ACTIVE_STATUSES)
def test_save_changes_no_column_of_the_workflow(status):
    assert effects(plan_change(status, TaskAction.SAVE, (A, R), 1)) == expected(Holder.SAME)


@pytest.mark.parametrize("status", ACTIVE_STATUSES)
def test_submit_before_the_last_step_enters_the_next_one_attributed_by_its_policy(status):
    change = plan_change(status, TaskAction.SUBMIT, (A, R, R), 1)
    assert (change.move.status, change.move.step_index) == (TaskStatus.IN_PROGRESS, 2)
    # Progress counts every submit; the event keeps the visit's duration and the annotation as submitted.
    assert effects(change) == expected(Holder.ATTRIBUTED, counts_submit=True, records=DURATION_AND_ANNOTATION,
                                       **ENTERING)


def test_submit_at_the_last_step_finishes_the_task():
    change = plan_change(TaskStatus.IN_PROGRESS, TaskAction.SUBMIT, (A, R), 1)
    assert (change.move.status, change.move.step_index) == (TaskStatus.DONE, None)
    assert change.move.events == (EventKind.SUBMITTED, EventKind.DONE)
    # Out of the workflow: nobody holds it; an OPEN issue refuses it; the annotation becomes the
    # asset's; the campaign completes if it was its last active task.
    assert effects(change) == expected(Holder.NOBODY, counts_submit=True, records=DURATION_AND_ANNOTATION,
                                       leaves_step=True, refuses_open_issues=True, accepts_annotation=True,
                                       may_complete_campaign=True)


def test_submit_of_a_one_step_workflow_is_the_last_submit():
    assert plan_change(TaskStatus.TO_REWORK, TaskAction.SUBMIT, (A,), 0).refuses_open_issues is True


@pytest.mark.parametrize(("steps", "index", "back_to"), [((A, R), 1, 0), ((A, A, R, R), 3, 1), ((R, A, R), 2, 1)])
def test_rework_goes_back_to_whoever_held_the_annotation_step(steps, index, back_to):
    change = plan_change(TaskStatus.IN_PROGRESS, TaskAction.SEND_TO_REWORK, steps, index)
    assert (change.move.status, change.move.step_index) == (TaskStatus.TO_REWORK, back_to)
    assert change.move.needs_open_issue is True
    assert effects(change) == expected(Holder.LAST_HOLDER, records=DURATION, **ENTERING)


@pytest.mark.parametrize("index", [0, 1])
def test_skip_takes_the_task_out_and_may_complete_the_campaign(index):
    change = plan_change(TaskStatus.IN_PROGRESS, TaskAction.SKIP, (A, R), index)
    assert (change.move.status, change.move.step_index) == (TaskStatus.SKIPPED, None)
    assert change.move.needs_open_issue is True
    assert effects(change) == expected(Holder.NOBODY, records=DURATION, leaves_step=True, may_complete_campaign=True)


@pytest.mark.parametrize("status", ACTIVE_STATUSES)
def test_reassign_gives_the_task_to_the_named_user_who_has_not_started_it(status):
    change = plan_change(status, TaskAction.REASSIGN, (A, R), 1)
    assert (change.move.status, change.move.step_index, change.move.events) == (status, 1, (EventKind.REASSIGNED,))
    assert effects(change) == expected(Holder.GIVEN, started_at=Stamp.CLEAR)


@pytest.mark.parametrize("action", list(TaskAction))
@pytest.mark.parametrize("status", FINISHED_STATUSES)
def test_nothing_acts_on_a_finished_task(action, status):
    assert error_code(check_allowed, status, action) is ErrorCode.INVALID_STATE
    assert error_code(plan_change, status, action, (A, R), None) is ErrorCode.INVALID_STATE


@pytest.mark.parametrize("action", list(TaskAction))
@pytest.mark.parametrize("status", ACTIVE_STATUSES)
def test_every_action_acts_on_an_active_task(action, status):
    check_allowed(status, action)


@pytest.mark.parametrize("action", [a for a in TaskAction if a is not TaskAction.REASSIGN])
def test_only_the_assignee_moves_a_task(action):
    check_actor(action, 7, 7)
    assert error_code(check_actor, action, 7, 8) is ErrorCode.NOT_ASSIGNEE
    assert error_code(check_actor, action, None, 8) is ErrorCode.NOT_ASSIGNEE
    assert TRANSITIONS[action].actor is Actor.ASSIGNEE and TRANSITIONS[action].operation == "task.work"


def test_a_manager_reassigns_tasks_they_do_not_hold():
    check_actor(TaskAction.REASSIGN, 7, 8)
    rule = TRANSITIONS[TaskAction.REASSIGN]
    assert rule.actor is Actor.MANAGER
    assert [role for role in DatasetRole if allows(rule.operation, role)] == [MANAGER]


def test_every_operation_the_table_names_is_in_the_policy_table():
    assert {rule.operation for rule in TRANSITIONS.values()} <= set(POLICY)


@pytest.mark.parametrize("action", list(TaskAction))
def test_plan_change_keeps_plan_transition_s_move(action):
    for status in ACTIVE_STATUSES:
        for steps in ((A, R, R), (A, A, R), (A,)):
            for index in range(len(steps)):
                try:
                    move = plan_transition(status, action, steps, index)
                except DomainError as refused:
                    assert error_code(plan_change, status, action, steps, index) is refused.code
                    continue
                assert plan_change(status, action, steps, index).move == move
