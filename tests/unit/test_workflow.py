"""The pure workflow module against RULES.md: transitions, attribution, launch entry, campaign life
and progress. Expectations are written here from the rules, never computed by the module."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from stepwise.models.errors import DomainError, ErrorCode
from stepwise.models.workflow import (
    TRANSITIONS,
    AttributionPolicy,
    CampaignStatus,
    Entry,
    EventKind,
    Move,
    NewAssetPolicy,
    PreexistingStrategy,
    StepType,
    TaskAction,
    TaskStatus,
    accepts_new_assets,
    attribute,
    attribute_many,
    check_launchable,
    displayed_status,
    entry_for,
    plan_transition,
    progress_percent,
    remaining_submissions,
)

A = StepType.ANNOTATION
R = StepType.REVIEW
ROUND_ROBIN = AttributionPolicy.ROUND_ROBIN
LEAST_LOADED = AttributionPolicy.LEAST_LOADED


def error_code(call, *args, **kwargs) -> ErrorCode:
    with pytest.raises(DomainError) as caught:
        call(*args, **kwargs)
    return caught.value.code


# ---------------------------------------------------------------- the transition table

WORKFLOWS = {
    "A-R-R": (A, R, R),
    "A-A-R": (A, A, R),
    "R-A-R": (R, A, R),
    "R-R-A": (R, R, A),
    "A-R": (A, R),
    "A": (A,),
    "R": (R,),
}


def stay(status: TaskStatus, index: int, event: EventKind) -> Move:
    """Same step, same status, nobody new to attribute."""
    return Move(status, index, (event,), enters_step=False, needs_open_issue=False, leaves_forward=False)


def expect_start(status, steps, index):
    return stay(status, index, EventKind.STARTED)


def expect_save(status, steps, index):
    return stay(status, index, EventKind.SAVED)


def expect_reassign(status, steps, index):
    return stay(status, index, EventKind.REASSIGNED)


def expect_submit(status, steps, index):
    """Any step type: on to the next step IN_PROGRESS; after the last, DONE with a DONE event."""
    if index == len(steps) - 1:
        return Move(
            TaskStatus.DONE,
            None,
            (EventKind.SUBMITTED, EventKind.DONE),
            enters_step=False,
            needs_open_issue=False,
            leaves_forward=True,
        )
    return Move(
        TaskStatus.IN_PROGRESS,
        index + 1,
        (EventKind.SUBMITTED,),
        enters_step=True,
        needs_open_issue=False,
        leaves_forward=True,
    )


def expect_send_to_rework(status, steps, index):
    """REVIEW only; back to the nearest earlier ANNOTATION step, TO_REWORK; needs an OPEN issue."""
    if steps[index] is not R:
        return ErrorCode.WRONG_STEP
    earlier_annotation = None
    for candidate in range(index - 1, -1, -1):
        if steps[candidate] is A:
            earlier_annotation = candidate
            break
    if earlier_annotation is None:
        return ErrorCode.NO_PREVIOUS_ANNOTATION_STEP
    return Move(
        TaskStatus.TO_REWORK,
        earlier_annotation,
        (EventKind.SENT_TO_REWORK,),
        enters_step=True,
        needs_open_issue=True,
        leaves_forward=False,
    )


def expect_skip(status, steps, index):
    """Any step: SKIPPED, out of the workflow; needs an OPEN issue."""
    return Move(
        TaskStatus.SKIPPED, None, (EventKind.SKIPPED,), enters_step=False, needs_open_issue=True, leaves_forward=False
    )


EXPECTED_BY_ACTION = {
    TaskAction.START: expect_start,
    TaskAction.SAVE: expect_save,
    TaskAction.SUBMIT: expect_submit,
    TaskAction.SEND_TO_REWORK: expect_send_to_rework,
    TaskAction.SKIP: expect_skip,
    TaskAction.REASSIGN: expect_reassign,
}


def expected_outcome(status: TaskStatus, action: TaskAction, steps, index: int) -> Move | ErrorCode:
    if status in (TaskStatus.DONE, TaskStatus.SKIPPED):
        return ErrorCode.INVALID_STATE
    return EXPECTED_BY_ACTION[action](status, steps, index)


def position_name(steps, index: int) -> str:
    if len(steps) == 1:
        return "only"
    if index == 0:
        return "first"
    return "last" if index == len(steps) - 1 else "middle"


TRANSITION_CASES = [
    pytest.param(status, action, steps, index, id=f"{status}-{action}-{shape}@{index}")
    for status in TaskStatus
    for action in TaskAction
    for shape, steps in WORKFLOWS.items()
    for index in range(len(steps))
]


def test_the_expectations_and_the_module_table_cover_every_action():
    assert set(EXPECTED_BY_ACTION) == set(TaskAction)
    assert set(TRANSITIONS) == set(TaskAction)


def test_the_workflow_shapes_cover_every_step_type_at_every_position():
    seen = {(steps[index], position_name(steps, index)) for steps in WORKFLOWS.values() for index in range(len(steps))}
    assert seen == {(kind, where) for kind in StepType for where in ("first", "middle", "last", "only")}


@pytest.mark.parametrize(("status", "action", "steps", "index"), TRANSITION_CASES)
def test_transition(status, action, steps, index):
    expected = expected_outcome(status, action, steps, index)
    if isinstance(expected, ErrorCode):
        assert error_code(plan_transition, status, action, steps, index) is expected
    else:
        assert plan_transition(status, action, steps, index) == expected


@pytest.mark.parametrize("status", [TaskStatus.DONE, TaskStatus.SKIPPED])
@pytest.mark.parametrize("action", list(TaskAction))
def test_finished_tasks_out_of_the_workflow_refuse_everything(status, action):
    assert error_code(plan_transition, status, action, (A, R), None) is ErrorCode.INVALID_STATE


def test_a_reworked_task_keeps_to_rework_until_submitted():
    steps = (A, R)
    sent_back = plan_transition(TaskStatus.IN_PROGRESS, TaskAction.SEND_TO_REWORK, steps, 1)
    assert (sent_back.status, sent_back.step_index) == (TaskStatus.TO_REWORK, 0)
    assert plan_transition(sent_back.status, TaskAction.START, steps, 0).status is TaskStatus.TO_REWORK
    assert plan_transition(sent_back.status, TaskAction.SAVE, steps, 0).status is TaskStatus.TO_REWORK
    resubmitted = plan_transition(sent_back.status, TaskAction.SUBMIT, steps, 0)
    assert (resubmitted.status, resubmitted.step_index) == (TaskStatus.IN_PROGRESS, 1)


def test_a_full_walk_through_a_three_step_workflow():
    steps = (A, R, R)
    status, index = TaskStatus.IN_PROGRESS, 0
    events: list[EventKind] = []
    for action in (TaskAction.SUBMIT, TaskAction.SUBMIT, TaskAction.SEND_TO_REWORK, TaskAction.SUBMIT,
                   TaskAction.SUBMIT, TaskAction.SUBMIT):
        move = plan_transition(status, action, steps, index)
        status, index = move.status, move.step_index
        events.extend(move.events)
    assert (status, index) == (TaskStatus.DONE, None)
    assert events == [EventKind.SUBMITTED, EventKind.SUBMITTED, EventKind.SENT_TO_REWORK, EventKind.SUBMITTED,
                      EventKind.SUBMITTED, EventKind.SUBMITTED, EventKind.DONE]


# ---------------------------------------------------------------- attribute


def test_round_robin_continues_from_the_step_position_and_wraps():
    team = [10, 20, 30]
    assert attribute(ROUND_ROBIN, team, round_robin_next=0) == (10, 1)
    assert attribute(ROUND_ROBIN, team, round_robin_next=1) == (20, 2)
    assert attribute(ROUND_ROBIN, team, round_robin_next=2) == (30, 0)


def test_round_robin_cycles_in_list_order_over_successive_calls():
    team = [7, 3, 5]
    position, chosen = 1, []
    for _ in range(7):
        user, position = attribute(ROUND_ROBIN, team, round_robin_next=position)
        chosen.append(user)
    assert chosen == [3, 5, 7, 3, 5, 7, 3]
    assert position == 2


def test_round_robin_position_past_a_shrunk_list_wraps():
    assert attribute(ROUND_ROBIN, [10, 20], round_robin_next=3) == (20, 0)


def test_round_robin_ignores_loads():
    assert attribute(ROUND_ROBIN, [10, 20], round_robin_next=0, loads={10: 99, 20: 0}) == (10, 1)


@pytest.mark.parametrize("policy", list(AttributionPolicy))
def test_a_returning_task_goes_back_to_its_previous_holder_without_moving_the_position(policy):
    team = [10, 20, 30]
    loads = {10: 0, 20: 0, 30: 50}
    assert attribute(policy, team, previous_holder=30, round_robin_next=1, loads=loads) == (30, 1)


def test_a_previous_holder_no_longer_assigned_falls_back_to_round_robin():
    assert attribute(ROUND_ROBIN, [10, 20, 30], previous_holder=99, round_robin_next=2) == (30, 0)


def test_a_previous_holder_no_longer_assigned_falls_back_to_least_loaded():
    loads = {10: 3, 20: 1, 30: 2, 99: 0}
    assert attribute(LEAST_LOADED, [10, 20, 30], previous_holder=99, round_robin_next=2, loads=loads) == (20, 2)


def test_least_loaded_picks_the_fewest_and_breaks_ties_by_list_order():
    assert attribute(LEAST_LOADED, [10, 20, 30], loads={10: 2, 20: 1, 30: 1}) == (20, 0)
    assert attribute(LEAST_LOADED, [30, 20, 10], loads={10: 2, 20: 1, 30: 1}) == (30, 0)
    assert attribute(LEAST_LOADED, [10, 20, 30], loads={10: 0, 20: 0, 30: 0}) == (10, 0)


def test_least_loaded_counts_missing_users_as_zero_and_keeps_the_position():
    assert attribute(LEAST_LOADED, [10, 20, 30], round_robin_next=2, loads={10: 1, 30: 4}) == (20, 2)
    assert attribute(LEAST_LOADED, [10, 20, 30], round_robin_next=1) == (10, 1)


@pytest.mark.parametrize("policy", list(AttributionPolicy))
def test_a_step_without_assignees_cannot_attribute(policy):
    assert error_code(attribute, policy, []) is ErrorCode.NO_ASSIGNEES
    assert error_code(attribute, policy, [], previous_holder=10) is ErrorCode.NO_ASSIGNEES


# ---------------------------------------------------------------- attribute_many


def attribute_one_by_one(policy, assignees, count, round_robin_next, loads):
    """The reference: `attribute` called `count` times, each new task counted in `loads`."""
    chosen = []
    for _ in range(count):
        user, round_robin_next = attribute(policy, assignees, round_robin_next=round_robin_next, loads=loads)
        loads[user] = loads.get(user, 0) + 1
        chosen.append(user)
    return chosen, round_robin_next


def random_launch(rng: random.Random):
    """A workflow of 1 to 4 steps over a small shared team, with pre-existing loads."""
    team = rng.sample(range(1, 100), rng.randint(1, 6))
    steps = []
    for _ in range(rng.randint(1, 4)):
        assignees = [rng.choice(team) for _ in range(rng.randint(1, 5))]  # may repeat users
        steps.append((rng.choice(list(AttributionPolicy)), assignees, rng.randint(0, 40), rng.randint(0, 7)))
    loads = {user: rng.randint(0, 5) for user in team if rng.random() < 0.6}
    return steps, loads


@pytest.mark.parametrize("seed", range(300))
def test_attribute_many_matches_repeated_attribute(seed):
    steps, initial_loads = random_launch(random.Random(seed))
    loads, reference_loads = dict(initial_loads), dict(initial_loads)
    for policy, assignees, count, position in steps:
        expected, expected_position = attribute_one_by_one(policy, assignees, count, position, reference_loads)
        chosen, next_position = attribute_many(policy, assignees, count, round_robin_next=position, loads=loads)
        assert chosen == expected
        assert same_cursor(policy, assignees, next_position, expected_position)
        assert loads == reference_loads


def same_cursor(policy, assignees, got: int, expected: int) -> bool:
    """Round-robin positions name the same next assignee modulo the list's length (a position
    left past a shortened list may come back normalised); LEAST_LOADED never moves it."""
    if policy is ROUND_ROBIN:
        return got % len(assignees) == expected % len(assignees)
    return got == expected


@pytest.mark.parametrize("seed", range(100))
def test_attribute_many_matches_repeated_attribute_exactly_from_in_range_positions(seed):
    rng = random.Random(10_000 + seed)
    assignees = [rng.randint(1, 6) for _ in range(rng.randint(1, 5))]
    policy = rng.choice(list(AttributionPolicy))
    position, count = rng.randrange(len(assignees)), rng.randint(0, 30)
    loads = {user: rng.randint(0, 4) for user in range(1, 7) if rng.random() < 0.5}
    reference_loads = dict(loads)
    expected = attribute_one_by_one(policy, assignees, count, position, reference_loads)
    assert attribute_many(policy, assignees, count, round_robin_next=position, loads=loads) == expected
    assert loads == reference_loads


def test_attribute_many_updates_the_given_loads_in_place():
    loads = {1: 2}
    chosen, position = attribute_many(LEAST_LOADED, [1, 2, 3], 5, round_robin_next=4, loads=loads)
    assert (chosen, position) == ([2, 3, 2, 3, 1], 4)
    assert loads == {1: 3, 2: 2, 3: 2}

    loads = {}
    chosen, position = attribute_many(ROUND_ROBIN, [1, 2, 3], 4, round_robin_next=2, loads=loads)
    assert (chosen, position) == ([3, 1, 2, 3], 0)
    assert loads == {3: 2, 1: 1, 2: 1}


def test_attribute_many_of_nothing_needs_no_assignee():
    for policy in AttributionPolicy:
        assert attribute_many(policy, [], 0, round_robin_next=3) == ([], 3)
        assert error_code(attribute_many, policy, [], 1) is ErrorCode.NO_ASSIGNEES


# ---------------------------------------------------------------- launch entry

ENTRY_WORKFLOWS = {
    "A": (A,),
    "A-A": (A, A),
    "A-R": (A, R),
    "R-A": (R, A),
    "A-A-R-R": (A, A, R, R),
    "R": (R,),
}


def expected_entry(strategy, has_annotation, steps) -> Entry | ErrorCode:
    if not has_annotation or strategy is PreexistingStrategy.BACK_TO_ANNOTATION:
        return Entry(step_index=0, copies_annotation=False)
    if strategy is PreexistingStrategy.DONE:
        return Entry(step_index=None, copies_annotation=True)
    reviews = [index for index, kind in enumerate(steps) if kind is R]
    return Entry(step_index=reviews[0], copies_annotation=True) if reviews else ErrorCode.INVALID_INPUT


@pytest.mark.parametrize("strategy", list(PreexistingStrategy))
@pytest.mark.parametrize("has_annotation", [True, False])
@pytest.mark.parametrize("steps", list(ENTRY_WORKFLOWS.values()), ids=list(ENTRY_WORKFLOWS))
def test_entry_for(strategy, has_annotation, steps):
    expected = expected_entry(strategy, has_annotation, steps)
    if isinstance(expected, ErrorCode):
        assert error_code(entry_for, strategy, has_annotation, steps) is expected
    else:
        assert entry_for(strategy, has_annotation, steps) == expected


# ---------------------------------------------------------------- campaign life


def test_a_draft_with_assigned_steps_is_launchable():
    assert check_launchable(CampaignStatus.DRAFT, [1]) is None
    assert check_launchable(CampaignStatus.DRAFT, [2, 1, 5]) is None


def test_launch_needs_steps_each_with_assignees():
    assert error_code(check_launchable, CampaignStatus.DRAFT, []) is ErrorCode.NO_STEPS
    assert error_code(check_launchable, CampaignStatus.DRAFT, [0]) is ErrorCode.NO_ASSIGNEES
    assert error_code(check_launchable, CampaignStatus.DRAFT, [2, 0, 1]) is ErrorCode.NO_ASSIGNEES


@pytest.mark.parametrize("status", [CampaignStatus.ONGOING, CampaignStatus.OVERDUE, CampaignStatus.COMPLETED])
@pytest.mark.parametrize("counts", [[1, 1], [], [0]])
def test_launching_twice_is_invalid_state(status, counts):
    assert error_code(check_launchable, status, counts) is ErrorCode.INVALID_STATE


NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("stored", "due", "shown"),
    [
        (CampaignStatus.ONGOING, NOW - timedelta(seconds=1), CampaignStatus.OVERDUE),
        (CampaignStatus.ONGOING, NOW - timedelta(days=30), CampaignStatus.OVERDUE),
        (CampaignStatus.ONGOING, NOW + timedelta(seconds=1), CampaignStatus.ONGOING),
        (CampaignStatus.ONGOING, None, CampaignStatus.ONGOING),
        (CampaignStatus.DRAFT, NOW - timedelta(days=1), CampaignStatus.DRAFT),
        (CampaignStatus.COMPLETED, NOW - timedelta(days=1), CampaignStatus.COMPLETED),
        (CampaignStatus.DRAFT, None, CampaignStatus.DRAFT),
        (CampaignStatus.COMPLETED, None, CampaignStatus.COMPLETED),
    ],
)
def test_displayed_status(stored, due, shown):
    assert displayed_status(stored, due, NOW) is shown


def expected_acceptance(status, policy, close_when_initial_done, initial_tasks_open) -> bool:
    """New assets get tasks once launched (a COMPLETED campaign that gains one becomes ONGOING
    again), with ADD_TO_CAMPAIGN, unless closed because every launch task is DONE or SKIPPED."""
    if status is CampaignStatus.DRAFT or policy is NewAssetPolicy.IGNORE:
        return False
    return initial_tasks_open or not close_when_initial_done


@pytest.mark.parametrize("status", list(CampaignStatus))
@pytest.mark.parametrize("policy", list(NewAssetPolicy))
@pytest.mark.parametrize("close_when_initial_done", [True, False])
@pytest.mark.parametrize("initial_tasks_open", [True, False])
def test_accepts_new_assets(status, policy, close_when_initial_done, initial_tasks_open):
    expected = expected_acceptance(status, policy, close_when_initial_done, initial_tasks_open)
    assert accepts_new_assets(status, policy, close_when_initial_done, initial_tasks_open) is expected


# ---------------------------------------------------------------- progress


def test_remaining_submissions_counts_the_current_step_to_the_last():
    assert [remaining_submissions(3, position) for position in range(3)] == [3, 2, 1]
    assert remaining_submissions(1, 0) == 1


def test_the_worked_example_of_the_rules():
    """4 assets, [Annotate, Review], 2 submits at Annotate: S = 2, R = 2×2 + 2×1 = 6 → 25.0."""
    step_count = 2
    positions_of_active_tasks = [1, 1, 0, 0]
    remaining = sum(remaining_submissions(step_count, position) for position in positions_of_active_tasks)
    assert remaining == 6
    assert progress_percent(2, remaining, launched=True) == 25.0


def test_progress_from_launch_to_the_end():
    assert progress_percent(0, 8, launched=True) == 0.0
    assert progress_percent(6, 2, launched=True) == 75.0
    assert progress_percent(8, 0, launched=True) == 100.0
    assert progress_percent(1, 2, launched=True) == pytest.approx(100 / 3)


def test_progress_with_nothing_to_do():
    assert progress_percent(0, 0, launched=True) == 100.0
    assert progress_percent(0, 0, launched=False) == 0.0
