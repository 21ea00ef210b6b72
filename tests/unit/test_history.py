"""Task.history's step states (models/history.py) against RULES.md "Transitions": steps the task
has left forward are DONE (with who submitted), the current one CURRENT, later ones UPCOMING; a
step sent back to rework shows its last submission. Expectations written from the rules."""

from __future__ import annotations

from dataclasses import dataclass

from stepwise.models.history import StepState, step_history
from stepwise.models.workflow import EventKind, TaskStatus

DONE, CURRENT, UPCOMING = StepState.DONE, StepState.CURRENT, StepState.UPCOMING
ANNOTATE, REVIEW, CHECK = 11, 12, 13
STEPS = [ANNOTATE, REVIEW, CHECK]
LABELER, REVIEWER, CHECKER = 100, 200, 300


@dataclass(frozen=True)
class Event:
    kind: EventKind
    step_id: int | None
    actor_id: int | None
    label: str = ""


def created(step=ANNOTATE):
    return Event(EventKind.CREATED, step, None)


def submitted(step, actor, label=""):
    return Event(EventKind.SUBMITTED, step, actor, label)


def states(entries):
    return [(entry.state, entry.holder) for entry in entries]


def test_a_new_task_is_at_its_first_step_and_every_later_one_is_upcoming():
    entries = step_history(STEPS, TaskStatus.IN_PROGRESS, ANNOTATE, LABELER, [created()])
    assert states(entries) == [(CURRENT, LABELER), (UPCOMING, None), (UPCOMING, None)]
    assert [e.last_submit for e in entries] == [None, None, None]


def test_a_submitted_step_is_done_by_its_submitter():
    events = [created(), Event(EventKind.STARTED, ANNOTATE, LABELER), submitted(ANNOTATE, LABELER, "first")]
    entries = step_history(STEPS, TaskStatus.IN_PROGRESS, REVIEW, REVIEWER, events)
    assert states(entries) == [(DONE, LABELER), (CURRENT, REVIEWER), (UPCOMING, None)]
    assert entries[0].last_submit.label == "first"


def test_a_step_sent_back_to_rework_shows_its_last_submission():
    events = [created(), submitted(ANNOTATE, LABELER, "first"), submitted(REVIEW, REVIEWER, "reviewed"),
              Event(EventKind.SENT_TO_REWORK, CHECK, CHECKER)]
    entries = step_history(STEPS, TaskStatus.TO_REWORK, ANNOTATE, LABELER, events)
    # Back at Annotate: it is CURRENT and shows what was submitted there; Review is ahead again.
    assert states(entries) == [(CURRENT, LABELER), (UPCOMING, None), (UPCOMING, None)]
    assert entries[0].last_submit.label == "first" and entries[1].last_submit.label == "reviewed"


def test_after_a_rework_each_step_shows_its_latest_submission_and_submitter():
    events = [created(), submitted(ANNOTATE, LABELER, "first"), Event(EventKind.SENT_TO_REWORK, REVIEW, REVIEWER),
              Event(EventKind.REASSIGNED, ANNOTATE, 999), submitted(ANNOTATE, 400, "second")]
    entries = step_history(STEPS, TaskStatus.IN_PROGRESS, REVIEW, REVIEWER, events)
    assert states(entries) == [(DONE, 400), (CURRENT, REVIEWER), (UPCOMING, None)]
    assert entries[0].last_submit.label == "second"


def test_a_done_task_has_every_step_done():
    events = [created(), submitted(ANNOTATE, LABELER), submitted(REVIEW, REVIEWER), submitted(CHECK, CHECKER),
              Event(EventKind.DONE, CHECK, CHECKER)]
    entries = step_history(STEPS, TaskStatus.DONE, None, None, events)
    assert states(entries) == [(DONE, LABELER), (DONE, REVIEWER), (DONE, CHECKER)]


def test_a_skipped_task_has_done_only_the_steps_it_submitted():
    events = [created(), submitted(ANNOTATE, LABELER), Event(EventKind.SKIPPED, REVIEW, REVIEWER)]
    entries = step_history(STEPS, TaskStatus.SKIPPED, None, None, events)
    assert states(entries) == [(DONE, LABELER), (UPCOMING, None), (UPCOMING, None)]


def test_a_task_that_entered_at_a_later_step_has_the_steps_before_it_done_by_nobody():
    # FIRST_QUALITY_CHECK: a pre-existing annotation enters at the first REVIEW step.
    entries = step_history(STEPS, TaskStatus.IN_PROGRESS, REVIEW, REVIEWER, [created(REVIEW)])
    assert states(entries) == [(DONE, None), (CURRENT, REVIEWER), (UPCOMING, None)]


def test_a_task_done_at_launch_has_no_step_done():
    entries = step_history(STEPS, TaskStatus.DONE, None, None, [created(None), Event(EventKind.DONE, None, None)])
    assert states(entries) == [(UPCOMING, None)] * 3


def test_a_submitter_whose_account_is_gone_leaves_a_done_step_with_nobody():
    entries = step_history(STEPS, TaskStatus.IN_PROGRESS, REVIEW, REVIEWER, [created(), submitted(ANNOTATE, None)])
    assert states(entries) == [(DONE, None), (CURRENT, REVIEWER), (UPCOMING, None)]
