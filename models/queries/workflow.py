"""Loading a campaign's workflow: its steps in order with their assignee lists (two queries)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from stepwise.models.db.campaigns import Step, StepAssignee
from stepwise.models.workflow import StepType


@dataclass
class WorkflowStep:
    id: int
    type: StepType
    position: int
    assignees: list[int]
    round_robin_next: int


async def load_workflow(campaign_id: int) -> list[WorkflowStep]:
    steps = await Step.filter(campaign_id=campaign_id).order_by("position")
    assignees: dict[int, list[int]] = defaultdict(list)
    rows = await StepAssignee.filter(step_id__in=[s.id for s in steps]).order_by("step_id", "position").values_list(
        "step_id", "user_id"
    )
    for step_id, user_id in rows:
        assignees[step_id].append(user_id)
    return [WorkflowStep(s.id, s.type, s.position, assignees[s.id], s.round_robin_next) for s in steps]


async def save_round_robin(step: WorkflowStep, next_index: int) -> None:
    if next_index != step.round_robin_next:
        step.round_robin_next = next_index
        await Step.filter(id=step.id).update(round_robin_next=next_index)
