"""Loading a campaign's workflow: its steps in order with their assignee lists."""

from __future__ import annotations

from dataclasses import dataclass

from stepwise.models.db import sql
from stepwise.models.db.campaigns import Step
from stepwise.models.workflow import StepType


@dataclass
class WorkflowStep:
    id: int
    type: StepType
    position: int
    assignees: list[int]
    round_robin_next: int


async def load_workflow(campaign_id: int) -> list[WorkflowStep]:
    """The steps in order with their assignees in order: one plain-SQL round trip."""
    steps: dict[int, WorkflowStep] = {}
    for step_id, step_type, position, round_robin_next, user_id in await sql.fetch(
        "SELECT s.id, s.type, s.position, s.round_robin_next, a.user_id FROM step s"
        " LEFT JOIN step_assignee a ON a.step_id = s.id WHERE s.campaign_id = ? ORDER BY s.position, a.position",
        [campaign_id],
    ):
        step = steps.setdefault(step_id, WorkflowStep(step_id, StepType(step_type), position, [], round_robin_next))
        if user_id is not None:
            step.assignees.append(user_id)
    return list(steps.values())


async def save_round_robin(step: WorkflowStep, next_index: int) -> None:
    if next_index != step.round_robin_next:
        step.round_robin_next = next_index
        await Step.filter(id=step.id).update(round_robin_next=next_index)
