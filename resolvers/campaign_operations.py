"""The campaign, task, issue and notification operations of the contract, composed into the roots.

This release serves no campaign: the lookups answer NOT_FOUND (no such object can exist yet),
the viewer's lists are empty, and every mutation and subscription answers NOT_IMPLEMENTED.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from stepwise.models.errors import NotAvailableYet, NotFound
from stepwise.permissions.graphql import IsAuthenticated
from stepwise.schema.campaign_inputs import (
    AddStepInput,
    CommentIssueInput,
    CreateCampaignInput,
    CreateIssueInput,
    LaunchCampaignInput,
    MarkNotificationsReadInput,
    ReassignTaskInput,
    ReassignTasksInput,
    RemoveStepInput,
    SaveAnnotationInput,
    SendToReworkInput,
    SkipTaskInput,
    SubmitTaskInput,
    TaskInput,
    UpdateCampaignInput,
    UpdateStepInput,
    UploadInstructionsInput,
)
from stepwise.schema.campaign_payloads import (
    CampaignPayload,
    IssuePayload,
    NotificationsPayload,
    StepPayload,
    TaskPayload,
    TasksPayload,
)
from stepwise.schema.context import Info
from stepwise.schema.ids import decode_id
from stepwise.schema.types.campaigns import Campaign, CampaignProgress
from stepwise.schema.types.enums import IssueStatusType
from stepwise.schema.types.issues import Issue
from stepwise.schema.types.notifications import Notification
from stepwise.schema.types.tasks import MyTaskGroup, Task
from stepwise.schema.types.updates import IssueUpdate, TaskUpdate

AUTH = [IsAuthenticated]
CAMPAIGN_ID = "The campaign's ID."
ORGANIZATION_ID = "The organization's ID; NOT_FOUND unless the viewer is a member."


def arg(description: str):
    return strawberry.argument(description=description)


async def require_member(info: Info, organization_id: strawberry.ID) -> int:
    """The organization's key, or NOT_FOUND when the viewer is not one of its members."""
    org_pk = decode_id(organization_id, "Organization")
    if await info.context.access.org_role(org_pk) is None:
        raise NotFound("Organization")
    return org_pk


@strawberry.type(description="Campaign, task, issue and notification lookups.")
class CampaignQueries:
    @strawberry.field(
        description="A campaign by ID; null with NOT_FOUND when the viewer cannot see it.", permission_classes=AUTH
    )
    def campaign(self, id: Annotated[strawberry.ID, arg("The campaign's ID.")]) -> Campaign | None:
        raise NotFound("Campaign")

    @strawberry.field(
        description="A task by ID; null with NOT_FOUND when the viewer cannot see it.", permission_classes=AUTH
    )
    def task(self, id: Annotated[strawberry.ID, arg("The task's ID.")]) -> Task | None:
        raise NotFound("Task")

    @strawberry.field(
        description="An issue by ID; null with NOT_FOUND when the viewer cannot see it.", permission_classes=AUTH
    )
    def issue(self, id: Annotated[strawberry.ID, arg("The issue's ID.")]) -> Issue | None:
        raise NotFound("Issue")

    @strawberry.field(
        description="The viewer's own active tasks in an organization, grouped by campaign.", permission_classes=AUTH
    )
    async def my_tasks(
        self, info: Info, organization_id: Annotated[strawberry.ID, arg(ORGANIZATION_ID)]
    ) -> list[MyTaskGroup]:
        await require_member(info, organization_id)
        return []

    @strawberry.field(
        description="Issues on the assets of the viewer's own active tasks, oldest first.", permission_classes=AUTH
    )
    async def my_issues(
        self,
        info: Info,
        organization_id: Annotated[strawberry.ID, arg(ORGANIZATION_ID)],
        status: Annotated[IssueStatusType | None, arg("Only issues in this status; all when omitted.")] = None,
    ) -> list[Issue]:
        await require_member(info, organization_id)
        return []

    @strawberry.field(description="The viewer's notifications, newest first.", permission_classes=AUTH)
    def notifications(
        self,
        unread_only: Annotated[bool | None, arg("True for only the notifications not marked read yet.")] = False,
    ) -> list[Notification]:
        return []


@strawberry.type(description="Campaign configuration, task transitions, issues and notifications.")
class CampaignMutations:
    @strawberry.mutation(
        description="Creates the DRAFT campaign of a dataset version (at most one per version). MANAGER only.",
        permission_classes=AUTH,
    )
    def create_campaign(self, input: Annotated[CreateCampaignInput, arg("The version.")]) -> CampaignPayload:
        raise NotAvailableYet("createCampaign")

    @strawberry.mutation(
        description="Adds a step to a DRAFT campaign's workflow. MANAGER only.", permission_classes=AUTH
    )
    def add_step(self, input: Annotated[AddStepInput, arg("The new step.")]) -> StepPayload:
        raise NotAvailableYet("addStep")

    @strawberry.mutation(
        description="Changes a step. After launch only its name and assignees may change. MANAGER only.",
        permission_classes=AUTH,
    )
    def update_step(self, input: Annotated[UpdateStepInput, arg("The step and its changes.")]) -> StepPayload:
        raise NotAvailableYet("updateStep")

    @strawberry.mutation(description="Removes a step from a DRAFT campaign. MANAGER only.", permission_classes=AUTH)
    def remove_step(self, input: Annotated[RemoveStepInput, arg("The step.")]) -> StepPayload:
        raise NotAvailableYet("removeStep")

    @strawberry.mutation(description="Changes a campaign's settings. MANAGER only.", permission_classes=AUTH)
    def update_campaign(
        self, input: Annotated[UpdateCampaignInput, arg("The campaign and its changes.")]
    ) -> CampaignPayload:
        raise NotAvailableYet("updateCampaign")

    @strawberry.mutation(
        description="Uploads the campaign's PDF instructions (multipart request). MANAGER only.",
        permission_classes=AUTH,
    )
    def upload_instructions(
        self, input: Annotated[UploadInstructionsInput, arg("The campaign and the file.")]
    ) -> CampaignPayload:
        raise NotAvailableYet("uploadInstructions")

    @strawberry.mutation(
        description="Launches a DRAFT campaign: every asset of the version gets a task. MANAGER only.",
        permission_classes=AUTH,
    )
    def launch_campaign(self, input: Annotated[LaunchCampaignInput, arg("The campaign.")]) -> CampaignPayload:
        raise NotAvailableYet("launchCampaign")

    @strawberry.mutation(
        description="Marks when the assignee began the current step of an active task. Assignee only.",
        permission_classes=AUTH,
    )
    def start_task(self, input: Annotated[TaskInput, arg("The task.")]) -> TaskPayload:
        raise NotAvailableYet("startTask")

    @strawberry.mutation(
        description="Replaces the working annotation of an active task. Assignee only.", permission_classes=AUTH
    )
    def save_annotation(self, input: Annotated[SaveAnnotationInput, arg("The task and its shapes.")]) -> TaskPayload:
        raise NotAvailableYet("saveAnnotation")

    @strawberry.mutation(
        description="Submits the current step: the task moves to the next step, or is DONE after the last. "
        "Assignee only.",
        permission_classes=AUTH,
    )
    def submit_task(self, input: Annotated[SubmitTaskInput, arg("The task.")]) -> TaskPayload:
        raise NotAvailableYet("submitTask")

    @strawberry.mutation(
        description="Sends a task at a REVIEW step back to the nearest earlier ANNOTATION step (TO_REWORK), "
        "to whoever submitted it there last. Needs an open issue on the asset. Assignee only.",
        permission_classes=AUTH,
    )
    def send_task_to_rework(self, input: Annotated[SendToReworkInput, arg("The task.")]) -> TaskPayload:
        raise NotAvailableYet("sendTaskToRework")

    @strawberry.mutation(
        description="Takes a task out of the workflow (SKIPPED). Needs an open issue on the asset. Assignee only.",
        permission_classes=AUTH,
    )
    def skip_task(self, input: Annotated[SkipTaskInput, arg("The task.")]) -> TaskPayload:
        raise NotAvailableYet("skipTask")

    @strawberry.mutation(description="Gives an active task to another worker. MANAGER only.", permission_classes=AUTH)
    def reassign_task(
        self, input: Annotated[ReassignTaskInput, arg("The task and its new assignee.")]
    ) -> TaskPayload:
        raise NotAvailableYet("reassignTask")

    @strawberry.mutation(
        description="Gives several active tasks at one step to another worker, all or none. MANAGER only.",
        permission_classes=AUTH,
    )
    def reassign_tasks(
        self, input: Annotated[ReassignTasksInput, arg("The step, the tasks and their new assignee.")]
    ) -> TasksPayload:
        raise NotAvailableYet("reassignTasks")

    @strawberry.mutation(
        description="Raises an issue on an asset of an ONGOING or OVERDUE campaign; its body is the first comment.",
        permission_classes=AUTH,
    )
    def create_issue(self, input: Annotated[CreateIssueInput, arg("The asset and the issue.")]) -> IssuePayload:
        raise NotAvailableYet("createIssue")

    @strawberry.mutation(description="Replies in an issue's thread.", permission_classes=AUTH)
    def reply_to_issue(self, input: Annotated[CommentIssueInput, arg("The issue and the reply.")]) -> IssuePayload:
        raise NotAvailableYet("replyToIssue")

    @strawberry.mutation(
        description="Resolves an OPEN issue, with an optional comment (else INVALID_STATE).", permission_classes=AUTH
    )
    def resolve_issue(self, input: Annotated[CommentIssueInput, arg("The issue and a comment.")]) -> IssuePayload:
        raise NotAvailableYet("resolveIssue")

    @strawberry.mutation(
        description="Re-opens a RESOLVED issue, with an optional comment (else INVALID_STATE).", permission_classes=AUTH
    )
    def reopen_issue(self, input: Annotated[CommentIssueInput, arg("The issue and a comment.")]) -> IssuePayload:
        raise NotAvailableYet("reopenIssue")

    @strawberry.mutation(description="Marks some of the viewer's notifications read.", permission_classes=AUTH)
    def mark_notifications_read(
        self, input: Annotated[MarkNotificationsReadInput, arg("The notifications.")]
    ) -> NotificationsPayload:
        raise NotAvailableYet("markNotificationsRead")


@strawberry.type(
    name="Subscription",
    description="Realtime events over the websocket at /graphql; authorization is checked again for every event.",
)
class Subscription:
    @strawberry.subscription(
        description="Every change to a task of the campaign. "
        "LABELER workers receive only changes to tasks that were or became theirs.",
        permission_classes=AUTH,
    )
    async def task_updates(
        self, campaign_id: Annotated[strawberry.ID, arg(CAMPAIGN_ID)]
    ) -> AsyncGenerator[TaskUpdate, None]:
        if True:
            raise NotAvailableYet("taskUpdates")
        yield

    @strawberry.subscription(
        description="Changes to tasks that were or became the viewer's, across the organization.",
        permission_classes=AUTH,
    )
    async def my_task_updates(
        self, organization_id: Annotated[strawberry.ID, arg(ORGANIZATION_ID)]
    ) -> AsyncGenerator[TaskUpdate, None]:
        if True:
            raise NotAvailableYet("myTaskUpdates")
        yield

    @strawberry.subscription(
        description="Issue activity in the campaign. "
        "LABELER workers receive only issues on assets of their own active tasks.",
        permission_classes=AUTH,
    )
    async def issue_updates(
        self, campaign_id: Annotated[strawberry.ID, arg(CAMPAIGN_ID)]
    ) -> AsyncGenerator[IssueUpdate, None]:
        if True:
            raise NotAvailableYet("issueUpdates")
        yield

    @strawberry.subscription(
        description="The current progress at once, then again after every change to it. Not for LABELER workers.",
        permission_classes=AUTH,
    )
    async def campaign_progress(
        self, campaign_id: Annotated[strawberry.ID, arg(CAMPAIGN_ID)]
    ) -> AsyncGenerator[CampaignProgress, None]:
        if True:
            raise NotAvailableYet("campaignProgress")
        yield

    @strawberry.subscription(description="The viewer's new notifications, as they are sent.", permission_classes=AUTH)
    async def notifications(self) -> AsyncGenerator[Notification, None]:
        if True:
            raise NotAvailableYet("notifications")
        yield
