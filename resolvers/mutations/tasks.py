"""Mutations that move tasks. Events are published after each action's transaction commits."""

from __future__ import annotations

from typing import Annotated

import strawberry

from stepwise.models.actions import reassign, transitions
from stepwise.models.actions.issues import NewIssue
from stepwise.models.actions.task_access import can_see_task
from stepwise.models.workflow import TaskAction
from stepwise.permissions.graphql import guard
from stepwise.resolvers.mutations.results import INPUT, payload_of
from stepwise.schema.campaign_inputs import (
    CreateIssueInput,
    NewIssueInput,
    ReassignTaskInput,
    ReassignTasksInput,
    SaveAnnotationInput,
    SendToReworkInput,
    SkipTaskInput,
    SubmitTaskInput,
    TaskInput,
)
from stepwise.schema.campaign_payloads import TaskPayload, TasksPayload
from stepwise.schema.context import Info
from stepwise.schema.ids import decode_id
from stepwise.schema.types.tasks import Task
from stepwise.subscriptions.publish import publish_committed

def new_issue(value: NewIssueInput | CreateIssueInput | None) -> NewIssue | None:
    """The issue a rework, a skip or createIssue raises (the same kind, body and zone fields)."""
    if value is None:
        return None
    zone = (value.zone.x, value.zone.y, value.zone.width, value.zone.height) if value.zone else None
    return NewIssue(value.kind, value.body, zone)


async def act(info: Info, task_gid: strawberry.ID, action: TaskAction, request: transitions.Request) -> TaskPayload:
    task_id = decode_id(task_gid, "Task")

    async def run() -> TaskPayload:
        outcome = await transitions.perform(info.context.access, task_id, action, request)
        await publish_committed(info.context.bus, [*outcome.issue_events, *outcome.events])
        for row in outcome.known_rows:  # the payload's step and assignee: no read after the commit
            info.context.loaders.by_id(type(row)).prime(row.id, row)
        # A LABELER whose submit or skip moved the task away from them sees it sealed, as
        # task(id) and their updates would show it from now on (docs/permissions.md).
        visible = await can_see_task(info.context.access, outcome.task, outcome.campaign)
        return TaskPayload(task=Task.as_seen(outcome.task, info, visible))

    return await payload_of(TaskPayload, run)


def shapes_of(shapes) -> list | None:
    return None if shapes is None else [shape.to_draft() for shape in shapes]


@strawberry.type
class TaskMutations:
    @strawberry.mutation(description="Marks when the assignee began the current step of an active task. Assignee only.", permission_classes=guard("Mutation.startTask"))
    async def start_task(self, info: Info, input: Annotated[TaskInput, INPUT]) -> TaskPayload:
        return await act(info, input.task_id, TaskAction.START, transitions.Request(input.expected_version))

    @strawberry.mutation(description="Replaces the working annotation of an active task. Assignee only.", permission_classes=guard("Mutation.saveAnnotation"))
    async def save_annotation(self, info: Info, input: Annotated[SaveAnnotationInput, INPUT]) -> TaskPayload:
        request = transitions.Request(input.expected_version, shapes=shapes_of(input.shapes))
        return await act(info, input.task_id, TaskAction.SAVE, request)

    @strawberry.mutation(description="Submits the current step: the task moves to the next step, or is DONE after the last (refused with OPEN_ISSUES while the asset has open issues). Assignee only.", permission_classes=guard("Mutation.submitTask"))
    async def submit_task(self, info: Info, input: Annotated[SubmitTaskInput, INPUT]) -> TaskPayload:
        request = transitions.Request(input.expected_version, shapes=shapes_of(input.shapes), active_seconds=input.active_seconds)
        return await act(info, input.task_id, TaskAction.SUBMIT, request)

    @strawberry.mutation(description="Sends a task at a REVIEW step back to the nearest earlier ANNOTATION step (TO_REWORK), to whoever submitted it there last. Needs an open issue on the asset, or `issue`. Assignee only.", permission_classes=guard("Mutation.sendTaskToRework"))
    async def send_task_to_rework(self, info: Info, input: Annotated[SendToReworkInput, INPUT]) -> TaskPayload:
        request = transitions.Request(input.expected_version, new_issue=new_issue(input.issue))
        return await act(info, input.task_id, TaskAction.SEND_TO_REWORK, request)

    @strawberry.mutation(description="Takes a task out of the workflow (SKIPPED). Needs an open issue on the asset, or `issue`. Assignee only.", permission_classes=guard("Mutation.skipTask"))
    async def skip_task(self, info: Info, input: Annotated[SkipTaskInput, INPUT]) -> TaskPayload:
        request = transitions.Request(input.expected_version, new_issue=new_issue(input.issue))
        return await act(info, input.task_id, TaskAction.SKIP, request)

    @strawberry.mutation(description="Gives an active task to another worker of the dataset. MANAGER only.", permission_classes=guard("Mutation.reassignTask"))
    async def reassign_task(self, info: Info, input: Annotated[ReassignTaskInput, INPUT]) -> TaskPayload:
        task_id, user_id = decode_id(input.task_id, "Task"), decode_id(input.assignee_id, "User")

        async def run() -> TaskPayload:
            tasks, events = await reassign.reassign_tasks(info.context.access, [task_id], user_id, None, bulk=False)
            await publish_committed(info.context.bus, events)
            return TaskPayload(task=Task.from_row(tasks[0], info))

        return await payload_of(TaskPayload, run)

    @strawberry.mutation(description="Gives several active tasks, all at the given step, to another worker: all or none. MANAGER only.", permission_classes=guard("Mutation.reassignTasks"))
    async def reassign_tasks(self, info: Info, input: Annotated[ReassignTasksInput, INPUT]) -> TasksPayload:
        step_id, user_id = decode_id(input.step_id, "Step"), decode_id(input.assignee_id, "User")
        task_ids = [decode_id(i, "Task") for i in input.task_ids]

        async def run() -> TasksPayload:
            tasks, events = await reassign.reassign_tasks(info.context.access, task_ids, user_id, step_id)
            await publish_committed(info.context.bus, events)
            return TasksPayload(tasks=[Task.from_row(t, info) for t in tasks])

        return await payload_of(TasksPayload, run)
