"""Inputs of the campaign, task, issue and notification operations, and their list filters.

Patch inputs (UpdateStepInput, UpdateCampaignInput) leave omitted fields UNSET so that
"not given" stays distinct from an explicit null.
"""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.file_uploads import Upload

from stepwise.schema.inputs import ShapeInput
from stepwise.schema.types.enums import (
    AttributionPolicy,
    IssueKind,
    IssueStatus,
    NewAssetPolicy,
    PreexistingStrategy,
    StepType,
    TaskStatus,
)

EXPECTED_VERSION = "The task's `version` as last read; a different current version refuses the change (CONFLICT)."
RAISED_FIRST = "Raised first; required when the asset has no open issue (ISSUE_REQUIRED)."

# ---------------------------------------------------------------- filters


@strawberry.input(description="Narrows a campaign's task list; criteria combine with AND.")
class TaskFilter:
    status: list[TaskStatus] | None = strawberry.field(
        default=None, description="Only tasks in one of these statuses."
    )
    step_id: strawberry.ID | None = strawberry.field(default=None, description="Only tasks currently at this step.")
    assignee_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only tasks currently assigned to this user."
    )


@strawberry.input(description="Narrows a campaign's issue list; criteria combine with AND.")
class IssueFilter:
    status: IssueStatus | None = strawberry.field(default=None, description="Only issues in this status.")
    kind: IssueKind | None = strawberry.field(default=None, description="Only issues of this kind.")
    asset_id: strawberry.ID | None = strawberry.field(default=None, description="Only issues on this asset.")


@strawberry.input(description="A period of time, for analytics.")
class DateRangeInput:
    from_: datetime = strawberry.field(name="from", description="The start of the period (inclusive).")
    to: datetime = strawberry.field(description="The end of the period (exclusive).")


# ---------------------------------------------------------------- campaign configuration


@strawberry.input(description="Creates the DRAFT campaign of a dataset version. MANAGER only.")
class CreateCampaignInput:
    dataset_version_id: strawberry.ID = strawberry.field(
        description="The version to annotate; it may hold one campaign only (ALREADY_EXISTS)."
    )


@strawberry.input(description="Adds a step to a DRAFT campaign's workflow.")
class AddStepInput:
    campaign_id: strawberry.ID = strawberry.field(description="The campaign, still DRAFT (else INVALID_STATE).")
    name: str = strawberry.field(description="The step's name, shown to workers.")
    type: StepType = strawberry.field(description="What the step asks for: ANNOTATION or REVIEW.")
    assignee_ids: list[strawberry.ID] = strawberry.field(
        description="Workers of the dataset who take the step's tasks, in attribution order (else NOT_A_WORKER)."
    )
    position: int | None = strawberry.field(default=None, description="0-based place; appended when omitted.")


@strawberry.input(description="Changes a step; omitted fields keep their value. After launch only name and assignees.")
class UpdateStepInput:
    step_id: strawberry.ID = strawberry.field(description="The step to change.")
    name: str | None = strawberry.field(default=strawberry.UNSET, description="A new name.")
    type: StepType | None = strawberry.field(
        default=strawberry.UNSET, description="A new step type; DRAFT campaigns only (else INVALID_STATE)."
    )
    assignee_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET,
        description="The new full list of assignees, in attribution order; all must be workers of the dataset.",
    )
    position: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="A new 0-based place; the other steps shift. DRAFT campaigns only (else INVALID_STATE).",
    )


@strawberry.input(description="Removes a step from a DRAFT campaign's workflow.")
class RemoveStepInput:
    step_id: strawberry.ID = strawberry.field(description="The step to remove; the steps after it move up.")


@strawberry.input(description="Changes a campaign's settings; omitted fields keep their value.")
class UpdateCampaignInput:
    campaign_id: strawberry.ID = strawberry.field(description="The campaign to change.")
    new_asset_policy: NewAssetPolicy | None = strawberry.field(
        default=strawberry.UNSET, description="Whether assets added while the campaign runs get tasks."
    )
    attribution_policy: AttributionPolicy | None = strawberry.field(
        default=strawberry.UNSET, description="How tasks entering a step pick their assignee."
    )
    preexisting_annotation_strategy: PreexistingStrategy | None = strawberry.field(
        default=strawberry.UNSET,
        description="Where assets with an annotation start; DRAFT campaigns only (else INVALID_STATE).",
    )
    due_date: datetime | None = strawberry.field(
        default=strawberry.UNSET, description="A new due date; to remove it, use clearDueDate."
    )
    clear_due_date: bool | None = strawberry.field(
        default=strawberry.UNSET, description="True removes the due date (and any OVERDUE status with it)."
    )
    close_to_new_assets_when_initial_tasks_done: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="True stops new assets getting tasks once every task created at launch is DONE or SKIPPED.",
    )


@strawberry.input(description="Uploads the workers' PDF instructions (multipart request); replaces earlier ones.")
class UploadInstructionsInput:
    campaign_id: strawberry.ID = strawberry.field(description="The campaign.")
    file: Upload = strawberry.field(
        description="A PDF file (else UNSUPPORTED_FILE_TYPE), within the size limit (else FILE_TOO_LARGE)."
    )


@strawberry.input(description="Launches a DRAFT campaign: every asset of the version gets one task.")
class LaunchCampaignInput:
    campaign_id: strawberry.ID = strawberry.field(
        description="The campaign: DRAFT (else INVALID_STATE), with steps (NO_STEPS) that all have assignees "
        "(NO_ASSIGNEES)."
    )


# ---------------------------------------------------------------- task transitions


@strawberry.input(description="Names an active task to act on.")
class TaskInput:
    task_id: strawberry.ID = strawberry.field(description="The task.")
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED_VERSION)


@strawberry.input(description="Replaces the working annotation of an active task.")
class SaveAnnotationInput:
    task_id: strawberry.ID = strawberry.field(description="The task.")
    shapes: list[ShapeInput] = strawberry.field(description="The whole new annotation; an empty list clears it.")
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED_VERSION)


@strawberry.input(description="Submits the task's current step: it moves to the next step, or is DONE after the last.")
class SubmitTaskInput:
    task_id: strawberry.ID = strawberry.field(description="The task.")
    shapes: list[ShapeInput] | None = strawberry.field(
        default=None, description="Saved before submitting, when given; the working annotation is kept when omitted."
    )
    active_seconds: float | None = strawberry.field(
        default=None,
        description="Active time the client measured on this task; the server's own measure is used when omitted.",
    )
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED_VERSION)


@strawberry.input(description="A rectangle of an asset, in pixels from its top-left corner.")
class ZoneInput:
    x: float = strawberry.field(description="Pixels from the left edge; the zone must lie inside the asset.")
    y: float = strawberry.field(description="Pixels from the top edge; the zone must lie inside the asset.")
    width: float = strawberry.field(description="Width in pixels, positive.")
    height: float = strawberry.field(description="Height in pixels, positive.")


@strawberry.input(description="An issue raised together with a rework or a skip, on the task's asset.")
class NewIssueInput:
    kind: IssueKind = strawberry.field(description="ZONE (needs `zone`) or IMAGE (takes none).")
    zone: ZoneInput | None = strawberry.field(default=None, description="Required for ZONE issues, refused for IMAGE.")
    body: str = strawberry.field(description="The issue's description: its first comment.")


@strawberry.input(description="Sends a task at a REVIEW step back to the nearest earlier ANNOTATION step.")
class SendToReworkInput:
    task_id: strawberry.ID = strawberry.field(description="The task, at a REVIEW step (else WRONG_STEP).")
    issue: NewIssueInput | None = strawberry.field(default=None, description=RAISED_FIRST)
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED_VERSION)


@strawberry.input(description="Takes a task out of the workflow (status SKIPPED).")
class SkipTaskInput:
    task_id: strawberry.ID = strawberry.field(description="The task.")
    issue: NewIssueInput | None = strawberry.field(default=None, description=RAISED_FIRST)
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED_VERSION)


@strawberry.input(description="Gives an active task to another worker. MANAGER only.")
class ReassignTaskInput:
    task_id: strawberry.ID = strawberry.field(description="The task, IN_PROGRESS or TO_REWORK (else INVALID_STATE).")
    assignee_id: strawberry.ID = strawberry.field(description="The new assignee, a worker of the dataset.")


@strawberry.input(description="Gives several active tasks at one step to another worker, all or none. MANAGER only.")
class ReassignTasksInput:
    step_id: strawberry.ID = strawberry.field(
        description="The step filter that must be active for a bulk reassignment: every task must be at this step."
    )
    task_ids: list[strawberry.ID] = strawberry.field(description="The tasks to reassign.")
    assignee_id: strawberry.ID = strawberry.field(description="The new assignee, a worker of the dataset.")


# ---------------------------------------------------------------- issues and notifications


@strawberry.input(description="Raises an issue on an asset of an ONGOING or OVERDUE campaign.")
class CreateIssueInput:
    asset_id: strawberry.ID = strawberry.field(description="The asset, with a task the viewer can see.")
    kind: IssueKind = strawberry.field(description="ZONE (needs `zone`) or IMAGE (takes none).")
    zone: ZoneInput | None = strawberry.field(default=None, description="Required for ZONE issues, refused for IMAGE.")
    body: str = strawberry.field(description="The issue's description: its first comment.")


@strawberry.input(description="Adds a comment to an issue's thread: a reply, or the note of a resolve or re-open.")
class CommentIssueInput:
    issue_id: strawberry.ID = strawberry.field(description="The issue.")
    body: str | None = strawberry.field(
        default=None, description="The comment's text; required for a reply, optional to resolve or re-open."
    )


@strawberry.input(description="Marks some of the viewer's notifications read.")
class MarkNotificationsReadInput:
    ids: list[strawberry.ID] = strawberry.field(description="The notifications to mark read.")
