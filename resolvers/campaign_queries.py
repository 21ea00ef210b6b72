"""Root lookups of campaigns and tasks, and the viewer's own task list."""

from __future__ import annotations

from typing import Annotated

import strawberry

from stepwise.models.actions.campaigns import find_campaign
from stepwise.models.actions.task_access import find_task
from stepwise.models.db.datasets import DatasetVersion as DatasetVersionModel
from stepwise.models.queries.tasks import my_active_tasks
from stepwise.permissions.graphql import guard
from stepwise.permissions.operations import operation
from stepwise.resolvers.fields.event_log import read_position_first
from stepwise.schema.context import Info
from stepwise.schema.ids import decode_id
from stepwise.schema.types.campaigns import Campaign
from stepwise.schema.types.datasets import DatasetVersion
from stepwise.schema.types.tasks import MyTaskGroup, Task

CAMPAIGN, MY_TASKS = operation("Query.campaign"), operation("Query.myTasks")


@strawberry.type
class CampaignQueries:
    @strawberry.field(description="A campaign by ID; null with NOT_FOUND when the viewer cannot see it.", permission_classes=guard(CAMPAIGN))
    async def campaign(self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The campaign's ID.")]) -> Campaign | None:
        pk = decode_id(id, "Campaign")
        position = await read_position_first(info, "Campaign", pk)  # before any data: see Campaign.eventCursor
        return Campaign.from_row(await find_campaign(info.context.access, pk, CAMPAIGN), position)

    @strawberry.field(
        description="A task by ID; null with NOT_FOUND when the viewer cannot see it (LABELERs see only their own active tasks).",
        permission_classes=guard("Query.task"),
    )
    async def task(self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The task's ID.")]) -> Task | None:
        task, _ = await find_task(info.context.access, decode_id(id, "Task"))
        return Task.from_row(task, info)

    @strawberry.field(description="The viewer's own active tasks in an organization, grouped by campaign.", permission_classes=guard(MY_TASKS))
    async def my_tasks(
        self, info: Info,
        organization_id: Annotated[strawberry.ID, strawberry.argument(description="The organization's ID; NOT_FOUND unless the viewer is a member.")],
    ) -> list[MyTaskGroup]:
        org_id = decode_id(organization_id, "Organization")
        access = info.context.access
        await access.check(MY_TASKS, org_id, what="Organization")
        active = await my_active_tasks(access.require_viewer().id, org_id)
        versions = await info.context.loaders.by_id(DatasetVersionModel).load_many([c.version_id for c, _ in active])
        return [MyTaskGroup(campaign=Campaign.from_row(campaign), dataset_version=DatasetVersion.from_row(version),
                            tasks=[Task.from_row(t, info) for t in tasks])
                for (campaign, tasks), version in zip(active, versions, strict=True)]
