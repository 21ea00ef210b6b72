"""Every enum of the contract, with a description for each value.

The domain's enums ARE the GraphQL enums: `expose` wraps each one (`strawberry.enum`), so
resolvers return `row.status` as it is and inputs arrive as domain members. The domain modules
stay free of strawberry; this module describes them. Only enums the domain has no use for are
declared here.
"""

from enum import Enum, EnumMeta

import strawberry

from stepwise.models.db.issues import CommentAction, IssueKind, IssueStatus
from stepwise.models.errors import ErrorCode
from stepwise.models.history import StepState
from stepwise.models.interchange.common import AnnotationFormat
from stepwise.models.notifications import NotificationKind
from stepwise.models.shapes import ShapeKind
from stepwise.models.workflow import (
    AttributionPolicy,
    CampaignStatus,
    EventKind,
    NewAssetPolicy,
    PreexistingStrategy,
    StepType,
    TaskStatus,
)
from stepwise.permissions.roles import DatasetRole, OrgRole

v = strawberry.enum_value

__all__ = [
    "AttributionPolicy", "CampaignStatus", "CommentAction", "DatasetRole", "ErrorCode", "EventKind",
    "GranularityType", "IssueKind", "IssueStatus", "IssueUpdateKindType", "NewAssetPolicy",
    "NotificationKind", "OrgRole", "PreexistingStrategy", "ShapeKind", "StepState", "StepType",
    "TaskStatus",
]


def expose(domain: EnumMeta, *, name: str, description: str, values: dict[str, str]) -> None:
    """Make the domain enum the GraphQL enum `name`, with a description for each of its values
    (all of them: a value added to the domain without one fails at import)."""
    if list(values) != [member.name for member in domain]:  # type: ignore[attr-defined]
        raise ValueError(f"{name}: describe exactly {[m.name for m in domain]}, in that order")  # type: ignore[attr-defined]
    strawberry.enum(domain, name=name, description=description)
    for value in domain.__strawberry_definition__.values:  # type: ignore[attr-defined]
        value.description = values[value.name]


expose(ErrorCode, name="ErrorCode", description="Why a mutation was refused (a `UserError.code`).", values={
    "INVALID_INPUT": "An input value is malformed or out of range; see `field`.",
    "INVALID_CREDENTIALS": "Unknown username or wrong password.",
    "ALREADY_EXISTS": "Something with this name or key already exists.",
    "INVALID_STATE": "The object's current state does not allow this change.",
    "NO_STEPS": "The campaign's workflow has no step.",
    "NO_ASSIGNEES": "A step of the workflow has no assignee.",
    "NOT_ASSIGNEE": "Only the task's assignee may do this.",
    "NOT_A_WORKER": "The user is not a worker of the dataset.",
    "WRONG_STEP": "The task is not at a step that allows this.",
    "OPEN_ISSUES": "Open issues on the asset block the last submit.",
    "ISSUE_REQUIRED": "Rework and skip need an open issue on the asset.",
    "NO_PREVIOUS_ANNOTATION_STEP": "No ANNOTATION step before this one to send the task back to.",
    "CAMPAIGN_NOT_ONGOING": "The campaign is not ONGOING or OVERDUE.",
    "CONFLICT": "`expectedVersion` differs from the task's version: reload and retry.",
    "FILE_TOO_LARGE": "The uploaded file is over the size limit.",
    "UNSUPPORTED_FILE_TYPE": "The uploaded file is not of an accepted type.",
})

expose(OrgRole, name="OrgRole", description="A member's role in an organization.", values={
    "ADMIN": "Everything in the organization; acts as MANAGER on every dataset.",
    "MEMBER": "Creates datasets and sees those where they are a worker.",
    "UNPRIVILEGED": "Sees only their own tasks; always a LABELER on datasets.",
})

expose(DatasetRole, name="DatasetRole", description="A worker's role on a dataset.", values={
    "MANAGER": "Edits the dataset, its workers and versions; runs its campaigns.",
    "CONTRIBUTOR": "Sees the dataset and its campaign; works on tasks assigned to them.",
    "LABELER": "Sees only their own active tasks and what those need.",
})

expose(ShapeKind, name="ShapeKind", description="The geometry of an annotation shape.", values={
    "RECTANGLE": "An axis-aligned box: top-left and bottom-right corners.",
    "POLYGON": "A closed outline of three or more points.",
    "LINE": "An open polyline of two or more points.",
    "POINT": "A single keypoint.",
    "CLASSIFICATION": "A label for the whole image, without geometry.",
})

expose(AnnotationFormat, name="AnnotationFormat", description="A file format for importing and exporting annotations.", values={
    "COCO": "COCO object detection JSON: `images`, `categories`, `annotations` (`bbox`, polygon `segmentation`).",
    "YOLO": "YOLO detection: a zip of one `<image stem>.txt` per image (`class cx cy w h`, normalised to 0..1) "
            "and `data.yaml` naming the classes.",
})

expose(CampaignStatus, name="CampaignStatus", description="Where a campaign is in its life.", values={
    "DRAFT": "Being configured; no task exists yet.",
    "ONGOING": "Launched, with tasks still open.",
    "OVERDUE": "Past its due date with tasks still open; work continues.",
    "COMPLETED": "Every task is DONE or SKIPPED.",
})

expose(StepType, name="StepType", description="What kind of work a workflow step asks for.", values={
    "ANNOTATION": "Draw or edit the annotation.",
    "REVIEW": "Check the annotation; submit, send to rework or skip.",
})

expose(NewAssetPolicy, name="NewAssetPolicy", description="What happens to assets added while a campaign runs.", values={
    "ADD_TO_CAMPAIGN": "They get tasks like the assets present at launch.",
    "IGNORE": "They stay out of the campaign.",
})

expose(AttributionPolicy, name="AttributionPolicy", description="How a step picks the assignee of a task entering it.",
       values={
           "ROUND_ROBIN": "Cycle through the step's assignees in the order listed.",
           "LEAST_LOADED": "The assignee with the fewest active tasks in the campaign.",
       })

expose(PreexistingStrategy, name="PreexistingAnnotationStrategy",
       description="Where an asset that already has an annotation starts.", values={
           "BACK_TO_ANNOTATION": "First step, with an empty working annotation.",
           "FIRST_QUALITY_CHECK": "First REVIEW step, reviewing the existing annotation.",
           "DONE": "Its task is DONE at launch.",
       })

expose(TaskStatus, name="TaskStatus", description="Where a task is in its journey through the workflow.", values={
    "IN_PROGRESS": "At an ANNOTATION or REVIEW step, moving forward normally.",
    "TO_REWORK": "Sent back from a review to an earlier ANNOTATION step.",
    "DONE": "Through the whole workflow: the asset counts as annotated.",
    "SKIPPED": "Taken out of the workflow without an accepted annotation.",
})

expose(EventKind, name="TaskEventKind", description="What happened to a task.", values={
    "CREATED": "The task was created (at launch or for a new asset).",
    "STARTED": "The assignee started working on the current step.",
    "SAVED": "The working annotation was saved.",
    "SUBMITTED": "The step was submitted; the task moved on.",
    "SENT_TO_REWORK": "A review sent the task back to an ANNOTATION step.",
    "SKIPPED": "The task was taken out of the workflow.",
    "REASSIGNED": "A manager gave the task to someone else.",
    "DONE": "The task finished the workflow.",
})

expose(IssueKind, name="IssueKind", description="What an issue points at.", values={
    "ZONE": "A rectangle of the asset.",
    "IMAGE": "The whole asset.",
})

expose(IssueStatus, name="IssueStatus", description="Whether an issue still needs attention.", values={
    "OPEN": "Needs attention; blocks the last submit.",
    "RESOLVED": "Settled.",
})

expose(CommentAction, name="IssueCommentAction", description="What a comment did to its issue.", values={
    "OPENED": "The first comment: the issue's description.",
    "REPLIED": "A reply in the thread.",
    "RESOLVED": "The issue was resolved.",
    "REOPENED": "The issue was opened again.",
})

expose(StepState, name="StepState", description="A workflow step as seen from one task's history.", values={
    "DONE": "The task left this step forward.",
    "CURRENT": "The task is at this step now.",
    "UPCOMING": "The task has not reached this step.",
})


expose(NotificationKind, name="NotificationKind", description="Why a notification was sent.", values={
    "DUE_SOON": "The campaign is due within 24 hours.",
    "OVERDUE": "The campaign is past its due date.",
    "COMPLETED": "The campaign completed.",
})


# Enums of the API alone (the domain has no such value set).


@strawberry.enum(name="Granularity", description="The width of analytics time buckets, aligned to UTC.")
class GranularityType(Enum):
    HOUR = v("HOUR", description="One bucket per hour.")
    DAY = v("DAY", description="One bucket per day.")
    WEEK = v("WEEK", description="One bucket per ISO week (starting Monday).")


@strawberry.enum(name="IssueUpdateKind", description="What happened to an issue.")
class IssueUpdateKindType(Enum):
    CREATED = v("CREATED", description="The issue was raised.")
    REPLIED = v("REPLIED", description="Someone replied.")
    RESOLVED = v("RESOLVED", description="The issue was resolved.")
    REOPENED = v("REOPENED", description="The issue was opened again.")
