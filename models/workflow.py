"""The campaign workflow, pure: statuses, the transition table, attribution, launch entry, progress.

Nothing here touches the database, the web or GraphQL; actions ask it what happens and write it.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from stepwise.models.errors import DomainError, ErrorCode, invalid_input


class CampaignStatus(StrEnum):
    DRAFT = "DRAFT"
    ONGOING = "ONGOING"
    OVERDUE = "OVERDUE"  # never stored: an ONGOING campaign past its due date
    COMPLETED = "COMPLETED"


class StepType(StrEnum):
    ANNOTATION = "ANNOTATION"
    REVIEW = "REVIEW"


class TaskStatus(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    TO_REWORK = "TO_REWORK"
    DONE = "DONE"
    SKIPPED = "SKIPPED"


ACTIVE = frozenset({TaskStatus.IN_PROGRESS, TaskStatus.TO_REWORK})


class AttributionPolicy(StrEnum):
    ROUND_ROBIN = "ROUND_ROBIN"
    LEAST_LOADED = "LEAST_LOADED"


class NewAssetPolicy(StrEnum):
    ADD_TO_CAMPAIGN = "ADD_TO_CAMPAIGN"
    IGNORE = "IGNORE"


class PreexistingStrategy(StrEnum):
    BACK_TO_ANNOTATION = "BACK_TO_ANNOTATION"
    FIRST_QUALITY_CHECK = "FIRST_QUALITY_CHECK"
    DONE = "DONE"


class EventKind(StrEnum):
    CREATED = "CREATED"
    STARTED = "STARTED"
    SAVED = "SAVED"
    SUBMITTED = "SUBMITTED"
    SENT_TO_REWORK = "SENT_TO_REWORK"
    SKIPPED = "SKIPPED"
    REASSIGNED = "REASSIGNED"
    DONE = "DONE"


class TaskAction(StrEnum):
    START = "START"
    SAVE = "SAVE"
    SUBMIT = "SUBMIT"
    SEND_TO_REWORK = "SEND_TO_REWORK"
    SKIP = "SKIP"
    REASSIGN = "REASSIGN"


class Target(StrEnum):
    """Where an action takes the task."""

    STAY = "STAY"  # same step, same status
    NEXT = "NEXT"  # the next step, or out as DONE after the last (with a DONE event)
    PREVIOUS_ANNOTATION = "PREVIOUS_ANNOTATION"  # back to the nearest earlier ANNOTATION step
    OUT = "OUT"  # out of the workflow


class Actor(StrEnum):
    """Who may take an action, on top of the policy operation (permissions/policy.py) it needs."""

    ASSIGNEE = "ASSIGNEE"  # only the task's current assignee (else NOT_ASSIGNEE)
    MANAGER = "MANAGER"  # whoever the operation allows (task.reassign: MANAGERs), assignee or not


class Holder(StrEnum):
    """Who holds the task after the action."""

    SAME = "SAME"  # the current assignee keeps it
    ATTRIBUTED = "ATTRIBUTED"  # the entered step's policy: its last holder there, else round robin / least loaded
    LAST_HOLDER = "LAST_HOLDER"  # whoever held it last at the entered step (for a rework: who submitted there)
    GIVEN = "GIVEN"  # the user the request names
    NOBODY = "NOBODY"  # out of the workflow


class Stamp(StrEnum):
    """What an action does to a timestamp column."""

    KEEP = "KEEP"
    NOW = "NOW"
    CLEAR = "CLEAR"


class Recorded(StrEnum):
    """What an action's events record besides kind, step, actor, assignee and time."""

    DURATION = "DURATION"  # the step visit: activeSeconds if sent, else since startTask or entering the step
    ANNOTATION = "ANNOTATION"  # the working annotation as submitted


@dataclass(frozen=True)
class Rule:
    """Every fact of one action. Entering a step always sets step_entered_at and clears started_at;
    leaving one records its holder there; every action bumps version and updated_at."""

    target: Target
    events: tuple[EventKind, ...]
    only_at: StepType | None = None  # the step type the action needs (else WRONG_STEP)
    needs_open_issue: bool = False  # an OPEN issue on the asset, existing or raised with the action
    allowed_from: frozenset[TaskStatus] = ACTIVE  # else INVALID_STATE
    actor: Actor = Actor.ASSIGNEE
    operation: str = "task.work"  # the policy operation (permissions/policy.py) the actor needs
    status: TaskStatus | None = None  # the status it enters (None: unchanged); NEXT past the last step: DONE
    holder: Holder = Holder.SAME
    started_at: Stamp = Stamp.KEEP
    counts_submit: bool = False  # submit_count + 1 (progress counts it)
    records: frozenset[Recorded] = frozenset()  # on the action's own events (the DONE that may follow: nothing)
    refuses_open_issues_when_done: bool = False  # leaving the last step with an OPEN issue: OPEN_ISSUES


ON_SUBMIT = frozenset({Recorded.DURATION, Recorded.ANNOTATION})
ON_LEAVING = frozenset({Recorded.DURATION})

# The transition table: every action on a task, every fact of it (RULES.md "Transitions").
TRANSITIONS: dict[TaskAction, Rule] = {
    TaskAction.START: Rule(Target.STAY, (EventKind.STARTED,), started_at=Stamp.NOW),
    TaskAction.SAVE: Rule(Target.STAY, (EventKind.SAVED,)),
    TaskAction.SUBMIT: Rule(
        Target.NEXT, (EventKind.SUBMITTED,), status=TaskStatus.IN_PROGRESS, holder=Holder.ATTRIBUTED,
        counts_submit=True, records=ON_SUBMIT, refuses_open_issues_when_done=True,
    ),
    TaskAction.SEND_TO_REWORK: Rule(
        Target.PREVIOUS_ANNOTATION, (EventKind.SENT_TO_REWORK,), only_at=StepType.REVIEW, needs_open_issue=True,
        status=TaskStatus.TO_REWORK, holder=Holder.LAST_HOLDER, records=ON_LEAVING,
    ),
    TaskAction.SKIP: Rule(Target.OUT, (EventKind.SKIPPED,), needs_open_issue=True, status=TaskStatus.SKIPPED,
                          holder=Holder.NOBODY, records=ON_LEAVING),
    TaskAction.REASSIGN: Rule(Target.STAY, (EventKind.REASSIGNED,), actor=Actor.MANAGER, operation="task.reassign",
                              holder=Holder.GIVEN, started_at=Stamp.CLEAR),
}

# Events of actions that leave the task at its step in its status: no count of progress moves.
COUNT_NEUTRAL_EVENTS = frozenset(e for rule in TRANSITIONS.values() if rule.target is Target.STAY for e in rule.events)


def check_allowed(status: TaskStatus, action: TaskAction) -> None:
    """INVALID_STATE unless the table lets `action` act on a task in `status`."""
    if status not in TRANSITIONS[action].allowed_from:
        raise DomainError(ErrorCode.INVALID_STATE, f"The task is {status}: nothing more can be done on it.")


def check_actor(action: TaskAction, assignee_id: int | None, viewer_id: int) -> None:
    """NOT_ASSIGNEE when the action is the assignee's and the viewer does not hold the task (the
    action's policy operation is checked apart: it needs the viewer's roles)."""
    if TRANSITIONS[action].actor is Actor.ASSIGNEE and assignee_id != viewer_id:
        raise DomainError(ErrorCode.NOT_ASSIGNEE, "Only the task's assignee may do this.")


@dataclass(frozen=True)
class Move:
    """What an action does: the new status and step (None when out of the workflow), the events
    to write in order, and whether the task enters a step (and so needs an assignee)."""

    status: TaskStatus
    step_index: int | None
    events: tuple[EventKind, ...]
    enters_step: bool
    needs_open_issue: bool
    leaves_forward: bool  # the current step was submitted (history marks it DONE)


def plan_transition(
    status: TaskStatus, action: TaskAction, step_types: Sequence[StepType], step_index: int | None
) -> Move:
    """What `action` does to a task in `status` at `step_index` of a workflow of `step_types`."""
    rule = TRANSITIONS[action]
    if status not in rule.allowed_from or step_index is None:
        raise DomainError(ErrorCode.INVALID_STATE, f"The task is {status}: nothing more can be done on it.")
    if rule.only_at is not None and step_types[step_index] is not rule.only_at:
        raise DomainError(ErrorCode.WRONG_STEP, f"{action} needs a {rule.only_at} step.")
    new_status = rule.status or status
    if rule.target is Target.STAY:
        return Move(new_status, step_index, rule.events, False, rule.needs_open_issue, False)
    if rule.target is Target.OUT:
        return Move(new_status, None, rule.events, False, rule.needs_open_issue, False)
    if rule.target is Target.NEXT:
        if step_index + 1 < len(step_types):
            return Move(new_status, step_index + 1, rule.events, True, rule.needs_open_issue, True)
        return Move(TaskStatus.DONE, None, (*rule.events, EventKind.DONE), False, rule.needs_open_issue, True)
    previous = [i for i in range(step_index) if step_types[i] is StepType.ANNOTATION]
    if not previous:
        raise DomainError(ErrorCode.NO_PREVIOUS_ANNOTATION_STEP, "No ANNOTATION step comes before this one.")
    return Move(new_status, previous[-1], rule.events, True, rule.needs_open_issue, False)


@dataclass(frozen=True)
class Change:
    """The full planned change of one transition: the move and what it does to the task's row,
    the rows around it, and its events. Actions write exactly this."""

    move: Move
    holder: Holder  # who holds the task afterwards (NOBODY once out of the workflow)
    started_at: Stamp
    step_entered_at: Stamp
    counts_submit: bool
    records: frozenset[Recorded]  # what the action's own event records (a trailing DONE records nothing)
    leaves_step: bool  # the step it leaves keeps a record of its holder there (a later return goes back to them)
    refuses_open_issues: bool  # an OPEN issue on the asset refuses it (OPEN_ISSUES)
    accepts_annotation: bool  # DONE: the working annotation becomes the asset's
    may_complete_campaign: bool  # no longer active: the campaign completes if no active task remains


def plan_change(
    status: TaskStatus, action: TaskAction, step_types: Sequence[StepType], step_index: int | None
) -> Change:
    """Everything `action` does to a task in `status` at `step_index`, read from TRANSITIONS."""
    rule = TRANSITIONS[action]
    move = plan_transition(status, action, step_types, step_index)
    out = move.step_index is None
    return Change(
        move=move,
        holder=Holder.NOBODY if out else rule.holder,
        started_at=Stamp.CLEAR if move.enters_step else rule.started_at,
        step_entered_at=Stamp.NOW if move.enters_step else Stamp.KEEP,
        counts_submit=rule.counts_submit,
        records=rule.records,
        leaves_step=move.step_index != step_index,
        refuses_open_issues=rule.refuses_open_issues_when_done and move.status is TaskStatus.DONE,
        accepts_annotation=move.status is TaskStatus.DONE,
        may_complete_campaign=move.status not in ACTIVE,
    )


# ---------------------------------------------------------------- attribution


def attribute(
    policy: AttributionPolicy,
    assignees: Sequence[int],
    *,
    previous_holder: int | None = None,
    round_robin_next: int = 0,
    loads: Mapping[int, int] | None = None,
) -> tuple[int, int]:
    """The assignee of a task entering a step, and the step's next round-robin position.

    A task returning to a step goes back to whoever held it there last, if still an assignee
    (the round-robin position does not move). Otherwise ROUND_ROBIN takes the assignee at the
    step's position and moves on; LEAST_LOADED takes the fewest active tasks, ties by list order.
    """
    if not assignees:
        raise DomainError(ErrorCode.NO_ASSIGNEES, "The step has no assignee.")
    if previous_holder is not None and previous_holder in assignees:
        return previous_holder, round_robin_next
    if policy is AttributionPolicy.ROUND_ROBIN:
        index = round_robin_next % len(assignees)
        return assignees[index], (index + 1) % len(assignees)
    loads = loads or {}
    chosen = min(range(len(assignees)), key=lambda i: (loads.get(assignees[i], 0), i))
    return assignees[chosen], round_robin_next


def attribute_many(
    policy: AttributionPolicy,
    assignees: Sequence[int],
    count: int,
    *,
    round_robin_next: int = 0,
    loads: dict[int, int] | None = None,
) -> tuple[list[int], int]:
    """`count` successive attributions of new tasks at one step (a launch), in order; `loads` is
    updated in place so that later steps see these tasks. Same choices as calling `attribute`
    `count` times, in O(count log n)."""
    if count and not assignees:
        raise DomainError(ErrorCode.NO_ASSIGNEES, "The step has no assignee.")
    loads = {} if loads is None else loads
    if policy is AttributionPolicy.ROUND_ROBIN:
        n = len(assignees)
        chosen = [assignees[(round_robin_next + k) % n] for k in range(count)]
        for user in chosen:
            loads[user] = loads.get(user, 0) + 1
        return chosen, (round_robin_next + count) % n if n else round_robin_next
    first_index: dict[int, int] = {}
    for index, user in enumerate(assignees):
        first_index.setdefault(user, index)
    heap = [(loads.get(user, 0), index, user) for user, index in first_index.items()]
    heapq.heapify(heap)
    chosen = []
    for _ in range(count):
        load, index, user = heapq.heappop(heap)
        chosen.append(user)
        heapq.heappush(heap, (load + 1, index, user))
    for user in chosen:
        loads[user] = loads.get(user, 0) + 1
    return chosen, round_robin_next


# ---------------------------------------------------------------- launch and campaign life


@dataclass(frozen=True)
class Entry:
    """Where a new task starts: a step index (None: DONE at once), and whether it carries the
    asset's pre-existing annotation as its working annotation."""

    step_index: int | None
    copies_annotation: bool


def entry_for(strategy: PreexistingStrategy, has_annotation: bool, step_types: Sequence[StepType]) -> Entry:
    if not has_annotation or strategy is PreexistingStrategy.BACK_TO_ANNOTATION:
        return Entry(0, False)
    if strategy is PreexistingStrategy.DONE:
        return Entry(None, True)
    if StepType.REVIEW not in step_types:
        raise invalid_input(
            "input.campaignId",
            "FIRST_QUALITY_CHECK needs a REVIEW step: some assets already have an annotation.",
        )
    return Entry(step_types.index(StepType.REVIEW), True)


def check_launchable(status: CampaignStatus, assignee_counts: Sequence[int]) -> None:
    """Launch needs a DRAFT campaign whose every step has an assignee."""
    if status is not CampaignStatus.DRAFT:
        raise DomainError(ErrorCode.INVALID_STATE, "The campaign was already launched.")
    if not assignee_counts:
        raise DomainError(ErrorCode.NO_STEPS, "Add at least one step before launching.")
    for position, count in enumerate(assignee_counts):
        if count == 0:
            raise DomainError(ErrorCode.NO_ASSIGNEES, f"Step {position} has no assignee.", "steps")


def displayed_status(stored: CampaignStatus, due_date: datetime | None, now: datetime) -> CampaignStatus:
    """OVERDUE is an ONGOING campaign past its due date; it is computed, never stored."""
    if stored is CampaignStatus.ONGOING and due_date is not None and now > due_date:
        return CampaignStatus.OVERDUE
    return stored


def accepts_new_assets(
    status: CampaignStatus, policy: NewAssetPolicy, close_when_initial_done: bool, initial_tasks_open: bool
) -> bool:
    """Whether an asset added to the version now gets a task."""
    if status not in (CampaignStatus.ONGOING, CampaignStatus.OVERDUE, CampaignStatus.COMPLETED):
        return False
    if policy is NewAssetPolicy.IGNORE:
        return False
    return not (close_when_initial_done and not initial_tasks_open)


# ---------------------------------------------------------------- progress


def remaining_submissions(step_count: int, position: int) -> int:
    """Submissions an active task still needs: its current step to the last, inclusive."""
    return step_count - position


def progress_percent(submitted: int, remaining: int, launched: bool) -> float:
    """100 × S / (S + R); 100 when nothing is left of a launched campaign, 0 before launch."""
    if submitted + remaining == 0:
        return 100.0 if launched else 0.0
    return 100.0 * submitted / (submitted + remaining)
