"""Tasks: one asset's journey through a campaign's workflow, with its history and events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from stepwise.models.db import campaigns as db
from stepwise.models.db.datasets import Asset as AssetModel
from stepwise.models.history import step_history
from stepwise.models.queries.tasks import TaskCriteria
from stepwise.models.db.accounts import User as UserModel
from stepwise.resolvers.fields.common import row_by_id, rows_by_ids
from stepwise.resolvers.fields.issues import asset_issues
from stepwise.resolvers.fields.tasks import (
    TaskPage,
    campaign_task_count,
    open_issue_count,
    task_events,
    task_steps_and_events,
)
from stepwise.schema.context import Info
from stepwise.schema.ids import encode_id
from stepwise.schema.pagination import encode_cursor
from stepwise.schema.types.accounts import User, user_or_none, users_or_none
from stepwise.schema.types.assets import Annotation, Asset, annotation_of
from stepwise.schema.types.campaigns import Campaign, Step, step_or_none
from stepwise.schema.types.common import Deferred, Node, PageInfo, page_info
from stepwise.schema.types.datasets import DatasetVersion
from stepwise.schema.types.enums import EventKind, IssueStatus, StepState, TaskStatus

if TYPE_CHECKING:
    from stepwise.schema.types.issues import Issue

IssueRef = Annotated["Issue", strawberry.lazy("stepwise.schema.types.issues")]


@strawberry.type(description="One workflow step as seen from a task: done, current or upcoming.")
class StepHistoryEntry:
    step: Step = strawberry.field(description="The workflow step.")
    state: StepState = strawberry.field(description="Whether the task left this step, is at it, or has yet to reach it.")
    assignee: User | None = strawberry.field(
        description="Who submitted this step last (DONE), holds it (CURRENT), or null (UPCOMING)."
    )
    submitted_at: datetime | None = strawberry.field(description="When this step was last submitted; null if never.")
    annotation: Annotation | None = strawberry.field(
        description="The annotation as submitted at this step, last time it was submitted; null if never."
    )


@strawberry.type(description="One transition of a task, as written in its audit trail.")
class TaskEvent:
    row: strawberry.Private[db.TaskEvent]

    @strawberry.field(description="What happened.")
    def kind(self) -> EventKind:
        return self.row.kind

    @strawberry.field(description="The step the task was at when this happened; null if it was out of the workflow.")
    async def step(self, info: Info) -> Step | None:
        return step_or_none(await row_by_id(info, db.Step, self.row.step_id))

    @strawberry.field(description="Who did it; null when the server did (e.g. tasks of assets added later).")
    async def actor(self, info: Info) -> User | None:
        return user_or_none(await row_by_id(info, UserModel, self.row.actor_id))

    @strawberry.field(description="The assignee after this event; null once DONE or SKIPPED.")
    async def assignee(self, info: Info) -> User | None:
        return user_or_none(await row_by_id(info, UserModel, self.row.assignee_id))

    @strawberry.field(description="When it happened.")
    def at(self) -> datetime:
        return self.row.at


@dataclass
class Preloaded:
    """A page's relations, loaded once for the whole page (see schema/prefetch.py); None for a
    relation the page's query does not select."""

    steps: dict | None = None
    users: dict | None = None
    assets: dict | None = None
    open_issues: dict | None = None


NOTHING_PRELOADED = Preloaded()


@strawberry.type(description="The work on one asset in a campaign, moving through the workflow step by step.")
class Task(Node):
    row: strawberry.Private[db.Task]
    status: TaskStatus = strawberry.field(description="Where the task is in the workflow.")
    version: int = strawberry.field(
        description="Incremented by every change; pass it as expectedVersion to detect concurrent edits."
    )
    # Relations are plain attributes (no resolver: the cheap path for pages of 100): the objects
    # a page preloaded, else Deferred loads that run only if the query selects them.
    asset: Asset = strawberry.field(description="The asset to annotate or review.")
    step: Step | None = strawberry.field(description="The current step; null once DONE or SKIPPED.")
    assignee: User | None = strawberry.field(
        description="The current assignee, the only one who may act on the task; null once DONE or SKIPPED."
    )
    open_issue_count: int = strawberry.field(description="How many OPEN issues the task's asset has.")
    # A task the viewer may no longer see, in a subscription update (docs/permissions.md).
    sealed: strawberry.Private[bool] = False

    @classmethod
    def from_row(cls, row: db.Task, info: Info, preloaded: Preloaded = NOTHING_PRELOADED) -> Task:
        return cls(
            id=encode_id("Task", row.id), row=row, status=row.status, version=row.version,
            asset=preloaded.assets[row.asset_id] if preloaded.assets is not None else Deferred(row_by_id, info, AssetModel, row.asset_id, then=Asset.from_row),
            step=preloaded.steps.get(row.step_id) if preloaded.steps is not None else Deferred(row_by_id, info, db.Step, row.step_id, then=step_or_none),
            assignee=preloaded.users.get(row.assignee_id) if preloaded.users is not None
            else Deferred(row_by_id, info, UserModel, row.assignee_id, then=user_or_none),
            open_issue_count=preloaded.open_issues.get(row.asset_id, 0) if preloaded.open_issues is not None
            else Deferred(open_issue_count, info, row.asset_id),
        )

    @classmethod
    def as_seen(cls, row: db.Task, info: Info, visible: bool) -> Task:
        """The task whole if the viewer may see it (permissions/visibility.py), else sealed."""
        return cls.from_row(row, info) if visible else cls.sealed_from_row(row, info)

    @classmethod
    def sealed_from_row(cls, row: db.Task, info: Info) -> Task:
        """The task as an update or a payload tells a viewer who may no longer see it (it left them): where it
        went, and none of its content: annotation null, issues, history and events empty, no open
        issue counted, and its asset sealed the same way (docs/permissions.md)."""
        task = cls.from_row(row, info)
        task.sealed, task.open_issue_count = True, 0
        task.asset = Deferred(row_by_id, info, AssetModel, row.asset_id, then=_sealed_asset)
        return task

    @strawberry.field(description="The campaign the task belongs to.")
    async def campaign(self, info: Info) -> Campaign:
        return Campaign.from_row(await row_by_id(info, db.Campaign, self.row.campaign_id))

    @strawberry.field(description="When the task was created (at launch or for a new asset).")
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field(description="When the task last changed.")
    def updated_at(self) -> datetime:
        return self.row.updated_at

    @strawberry.field(description="The working annotation of this task: saved drafts, or what the previous step submitted.")
    def annotation(self) -> Annotation | None:
        if self.sealed:
            return None
        row = self.row
        return annotation_of(row.annotation, row.annotation_updated_at or row.updated_at, row.annotation_updated_by_id)

    @strawberry.field(description="Issues raised on the task's asset, oldest first, optionally by status.")
    async def issues(
        self,
        info: Info,
        status: Annotated[
            IssueStatus | None, strawberry.argument(description="Only issues in this status; all when omitted.")
        ] = None,
    ) -> list[IssueRef]:
        from stepwise.schema.types.issues import Issue

        return [] if self.sealed else [Issue.from_row(r) for r in await asset_issues(info, self.row.asset_id, status)]

    @strawberry.field(description="One entry per workflow step, in workflow order.")
    async def history(self, info: Info) -> list[StepHistoryEntry]:
        if self.sealed:
            return []
        steps, events = await task_steps_and_events(info, self.row)
        entries = step_history([s.id for s in steps], self.row.status, self.row.step_id, self.row.assignee_id, events)
        holders = users_or_none(await rows_by_ids(info, UserModel, [entry.holder for entry in entries]))
        return [
            StepHistoryEntry(
                step=Step.from_row(step), state=entry.state, assignee=holder,
                submitted_at=entry.last_submit.at if entry.last_submit else None,
                annotation=annotation_of(entry.last_submit.annotation, entry.last_submit.at,
                                         entry.last_submit.actor_id) if entry.last_submit else None,
            )
            for step, entry, holder in zip(steps, entries, holders, strict=True)
        ]

    @strawberry.field(description="Every transition of the task, oldest first.")
    async def events(self, info: Info) -> list[TaskEvent]:
        if self.sealed:
            return []
        return [TaskEvent(row=row) for row in await task_events(info, self.row.id)]


@strawberry.type(description="A task in a page, with its cursor.")
class TaskEdge:
    cursor: str = strawberry.field(description="Pass it as `after` to continue after this task.")
    node: Task = strawberry.field(description="The task.")


@strawberry.type(description="A page of a campaign's tasks, oldest first.")
class TaskConnection:
    edges: list[TaskEdge] = strawberry.field(description="The tasks of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page sits in the whole list.")
    campaign_id: strawberry.Private[int]
    criteria: strawberry.Private[TaskCriteria]

    @strawberry.field(description="How many tasks match the filter, over all pages.")
    async def total_count(self) -> int:
        return await campaign_task_count(self.campaign_id, self.criteria)


def _sealed_asset(row) -> Asset:
    """The asset of a sealed task: its identity, none of its content."""
    asset = Asset.from_row(row)
    asset.sealed = True
    return asset


def preloaded(page: TaskPage) -> Preloaded:
    """The GraphQL objects of the relations a page loaded once (resolvers/fields/tasks.py)."""
    found = Preloaded()
    if page.steps is not None:
        found.steps = {s.id: Step.from_row(s) for s in page.steps}
    if page.users is not None:
        found.users = {u.id: User.from_row(u) for u in page.users}
    if page.assets is not None:
        found.assets = {a.id: Asset.from_row(a) for a in page.assets}
    found.open_issues = page.open_issues
    return found


def task_connection(info: Info, campaign_id: int, criteria: TaskCriteria, after: str | None,
                    page: TaskPage) -> TaskConnection:
    """The connection of a page of tasks (resolvers/fields/tasks.py campaign_task_page)."""
    rows, has_next, preloaded_relations = page.rows, page.has_next, preloaded(page)
    edges = [TaskEdge(cursor=encode_cursor(row.id), node=Task.from_row(row, info, preloaded_relations))
             for row in rows]
    return TaskConnection(edges=edges, page_info=page_info(edges, has_next, after), campaign_id=campaign_id,
                          criteria=criteria)


@strawberry.type(description="The viewer's own active tasks in one campaign.")
class MyTaskGroup:
    campaign: Campaign = strawberry.field(description="The campaign of these tasks.")
    dataset_version: DatasetVersion = strawberry.field(description="The dataset version the campaign annotates.")
    tasks: list[Task] = strawberry.field(description="The viewer's IN_PROGRESS and TO_REWORK tasks in this campaign, oldest first.")
