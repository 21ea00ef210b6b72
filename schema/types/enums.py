"""Every enum of the contract, with a description for each value."""

from enum import Enum

import strawberry

v = strawberry.enum_value


@strawberry.enum(name="ErrorCode", description="Why a mutation was refused (a `UserError.code`).")
class ErrorCodeType(Enum):
    INVALID_INPUT = v("INVALID_INPUT", description="An input value is malformed or out of range; see `field`.")
    INVALID_CREDENTIALS = v("INVALID_CREDENTIALS", description="Unknown username or wrong password.")
    ALREADY_EXISTS = v("ALREADY_EXISTS", description="Something with this name or key already exists.")
    INVALID_STATE = v("INVALID_STATE", description="The object's current state does not allow this change.")
    NO_STEPS = v("NO_STEPS", description="The campaign's workflow has no step.")
    NO_ASSIGNEES = v("NO_ASSIGNEES", description="A step of the workflow has no assignee.")
    NOT_ASSIGNEE = v("NOT_ASSIGNEE", description="Only the task's assignee may do this.")
    NOT_A_WORKER = v("NOT_A_WORKER", description="The user is not a worker of the dataset.")
    WRONG_STEP = v("WRONG_STEP", description="The task is not at a step that allows this.")
    OPEN_ISSUES = v("OPEN_ISSUES", description="Open issues on the asset block the last submit.")
    ISSUE_REQUIRED = v("ISSUE_REQUIRED", description="Rework and skip need an open issue on the asset.")
    NO_PREVIOUS_ANNOTATION_STEP = v(
        "NO_PREVIOUS_ANNOTATION_STEP", description="No ANNOTATION step before this one to send the task back to."
    )
    CAMPAIGN_NOT_ONGOING = v("CAMPAIGN_NOT_ONGOING", description="The campaign is not ONGOING or OVERDUE.")
    CONFLICT = v("CONFLICT", description="`expectedVersion` differs from the task's version: reload and retry.")
    FILE_TOO_LARGE = v("FILE_TOO_LARGE", description="The uploaded file is over the size limit.")
    UNSUPPORTED_FILE_TYPE = v("UNSUPPORTED_FILE_TYPE", description="The uploaded file is not of an accepted type.")


@strawberry.enum(name="OrgRole", description="A member's role in an organization.")
class OrgRoleType(Enum):
    ADMIN = v("ADMIN", description="Everything in the organization; acts as MANAGER on every dataset.")
    MEMBER = v("MEMBER", description="Creates datasets and sees those where they are a worker.")
    UNPRIVILEGED = v("UNPRIVILEGED", description="Sees only their own tasks; always a LABELER on datasets.")


@strawberry.enum(name="DatasetRole", description="A worker's role on a dataset.")
class DatasetRoleType(Enum):
    MANAGER = v("MANAGER", description="Edits the dataset, its workers and versions; runs its campaigns.")
    CONTRIBUTOR = v("CONTRIBUTOR", description="Sees the dataset and its campaign; works on tasks assigned to them.")
    LABELER = v("LABELER", description="Sees only their own active tasks and what those need.")


@strawberry.enum(name="ShapeKind", description="The geometry of an annotation shape.")
class ShapeKindType(Enum):
    RECTANGLE = v("RECTANGLE", description="An axis-aligned box: top-left and bottom-right corners.")
    POLYGON = v("POLYGON", description="A closed outline of three or more points.")
    LINE = v("LINE", description="An open polyline of two or more points.")
    POINT = v("POINT", description="A single keypoint.")
    CLASSIFICATION = v("CLASSIFICATION", description="A label for the whole image, without geometry.")


@strawberry.enum(name="CampaignStatus", description="Where a campaign is in its life.")
class CampaignStatusType(Enum):
    DRAFT = v("DRAFT", description="Being configured; no task exists yet.")
    ONGOING = v("ONGOING", description="Launched, with tasks still open.")
    OVERDUE = v("OVERDUE", description="Past its due date with tasks still open; work continues.")
    COMPLETED = v("COMPLETED", description="Every task is DONE or SKIPPED.")


@strawberry.enum(name="StepType", description="What kind of work a workflow step asks for.")
class StepTypeType(Enum):
    ANNOTATION = v("ANNOTATION", description="Draw or edit the annotation.")
    REVIEW = v("REVIEW", description="Check the annotation; submit, send to rework or skip.")


@strawberry.enum(name="NewAssetPolicy", description="What happens to assets added while a campaign runs.")
class NewAssetPolicyType(Enum):
    ADD_TO_CAMPAIGN = v("ADD_TO_CAMPAIGN", description="They get tasks like the assets present at launch.")
    IGNORE = v("IGNORE", description="They stay out of the campaign.")


@strawberry.enum(name="AttributionPolicy", description="How a step picks the assignee of a task entering it.")
class AttributionPolicyType(Enum):
    ROUND_ROBIN = v("ROUND_ROBIN", description="Cycle through the step's assignees in the order listed.")
    LEAST_LOADED = v("LEAST_LOADED", description="The assignee with the fewest active tasks in the campaign.")


@strawberry.enum(
    name="PreexistingAnnotationStrategy", description="Where an asset that already has an annotation starts."
)
class PreexistingAnnotationStrategyType(Enum):
    BACK_TO_ANNOTATION = v("BACK_TO_ANNOTATION", description="First step, with an empty working annotation.")
    FIRST_QUALITY_CHECK = v("FIRST_QUALITY_CHECK", description="First REVIEW step, reviewing the existing annotation.")
    DONE = v("DONE", description="Its task is DONE at launch.")


@strawberry.enum(name="TaskStatus", description="Where a task is in its journey through the workflow.")
class TaskStatusType(Enum):
    IN_PROGRESS = v("IN_PROGRESS", description="At an ANNOTATION or REVIEW step, moving forward normally.")
    TO_REWORK = v("TO_REWORK", description="Sent back from a review to an earlier ANNOTATION step.")
    DONE = v("DONE", description="Through the whole workflow: the asset counts as annotated.")
    SKIPPED = v("SKIPPED", description="Taken out of the workflow without an accepted annotation.")


@strawberry.enum(name="StepState", description="A workflow step as seen from one task's history.")
class StepStateType(Enum):
    DONE = v("DONE", description="The task left this step forward.")
    CURRENT = v("CURRENT", description="The task is at this step now.")
    UPCOMING = v("UPCOMING", description="The task has not reached this step.")


@strawberry.enum(name="TaskEventKind", description="What happened to a task.")
class TaskEventKindType(Enum):
    CREATED = v("CREATED", description="The task was created (at launch or for a new asset).")
    STARTED = v("STARTED", description="The assignee started working on the current step.")
    SAVED = v("SAVED", description="The working annotation was saved.")
    SUBMITTED = v("SUBMITTED", description="The step was submitted; the task moved on.")
    SENT_TO_REWORK = v("SENT_TO_REWORK", description="A review sent the task back to an ANNOTATION step.")
    SKIPPED = v("SKIPPED", description="The task was taken out of the workflow.")
    REASSIGNED = v("REASSIGNED", description="A manager gave the task to someone else.")
    DONE = v("DONE", description="The task finished the workflow.")


@strawberry.enum(name="IssueKind", description="What an issue points at.")
class IssueKindType(Enum):
    ZONE = v("ZONE", description="A rectangle of the asset.")
    IMAGE = v("IMAGE", description="The whole asset.")


@strawberry.enum(name="IssueStatus", description="Whether an issue still needs attention.")
class IssueStatusType(Enum):
    OPEN = v("OPEN", description="Needs attention; blocks the last submit.")
    RESOLVED = v("RESOLVED", description="Settled.")


@strawberry.enum(name="IssueCommentAction", description="What a comment did to its issue.")
class IssueCommentActionType(Enum):
    OPENED = v("OPENED", description="The first comment: the issue's description.")
    REPLIED = v("REPLIED", description="A reply in the thread.")
    RESOLVED = v("RESOLVED", description="The issue was resolved.")
    REOPENED = v("REOPENED", description="The issue was opened again.")


@strawberry.enum(name="Granularity", description="The width of analytics time buckets, aligned to UTC.")
class GranularityType(Enum):
    HOUR = v("HOUR", description="One bucket per hour.")
    DAY = v("DAY", description="One bucket per day.")
    WEEK = v("WEEK", description="One bucket per ISO week (starting Monday).")


@strawberry.enum(name="NotificationKind", description="Why a notification was sent.")
class NotificationKindType(Enum):
    DUE_SOON = v("DUE_SOON", description="The campaign is due within 24 hours.")
    OVERDUE = v("OVERDUE", description="The campaign is past its due date.")
    COMPLETED = v("COMPLETED", description="The campaign completed.")


@strawberry.enum(name="IssueUpdateKind", description="What happened to an issue.")
class IssueUpdateKindType(Enum):
    CREATED = v("CREATED", description="The issue was raised.")
    REPLIED = v("REPLIED", description="Someone replied.")
    RESOLVED = v("RESOLVED", description="The issue was resolved.")
    REOPENED = v("REOPENED", description="The issue was opened again.")
