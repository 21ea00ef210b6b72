"""Per-operation DataLoaders: one batched query per relation, whatever the page size."""

from __future__ import annotations

from collections import defaultdict

from strawberry.dataloader import DataLoader
from tortoise.functions import Count
from tortoise.models import Model

from stepwise.models.db.accounts import Invitation, Membership
from stepwise.models.db.datasets import Asset, Dataset, DatasetVersion, DatasetWorker, Label
from stepwise.models.db.campaigns import Campaign, Step, StepAssignee, Task, TaskEvent
from stepwise.models.db.issues import Issue, IssueComment, IssueStatus
from stepwise.models.queries.assets import asset_counts
from stepwise.models.queries.rows import asset_rows, in_list, task_rows


def _by_id_loader(model: type[Model]) -> DataLoader:
    async def load(ids: list[int]) -> list[Model | None]:
        rows = {row.id: row for row in await model.filter(id__in=ids)}
        return [rows.get(i) for i in ids]

    return DataLoader(load_fn=load)


def _children_loader(model: type[Model], parent_field: str, order_by: str = "id") -> DataLoader:
    async def load(parent_ids: list[int]) -> list[list[Model]]:
        groups: dict[int, list[Model]] = defaultdict(list)
        for row in await model.filter(**{f"{parent_field}__in": parent_ids}).order_by(order_by):
            groups[getattr(row, parent_field)].append(row)
        return [groups.get(i, []) for i in parent_ids]

    return DataLoader(load_fn=load)


def _single_child_loader(model: type[Model], parent_field: str) -> DataLoader:
    """The one row pointing at each parent (a version's campaign, an asset's task), or None."""

    async def load(parent_ids: list[int]) -> list[Model | None]:
        rows = {getattr(r, parent_field): r for r in await model.filter(**{f"{parent_field}__in": parent_ids})}
        return [rows.get(i) for i in parent_ids]

    return DataLoader(load_fn=load)


async def _open_issue_counts(asset_ids: list[int]) -> list[int]:
    rows = await (
        Issue.filter(asset_id__in=asset_ids, status=IssueStatus.OPEN).annotate(n=Count("id"))
        .group_by("asset_id").values_list("asset_id", "n")
    )
    counts = dict(rows)
    return [counts.get(i, 0) for i in asset_ids]


def _lean_loader(fetch) -> DataLoader:
    """By-id loader over lean SQL rows (models/queries/rows.py) for the hot list pages."""

    async def load(ids: list[int]):
        rows = {row.id: row for row in await fetch(f"id IN ({in_list(ids)})", list(ids))}
        return [rows.get(i) for i in ids]

    return DataLoader(load_fn=load)


class Loaders:
    """Built fresh for each operation (never shared: a cache must not cross viewers)."""

    def __init__(self) -> None:
        # Assets and tasks come as lean rows: pages list a hundred of them at a time.
        self._by_id: dict[type[Model], DataLoader] = {Asset: _lean_loader(asset_rows), Task: _lean_loader(task_rows)}
        self.labels_by_version = _children_loader(Label, "version_id", "name")
        self.versions_by_dataset = _children_loader(DatasetVersion, "dataset_id")
        self.workers_by_dataset = _children_loader(DatasetWorker, "dataset_id")
        self.memberships_by_organization = _children_loader(Membership, "organization_id")
        self.memberships_by_user = _children_loader(Membership, "user_id")
        self.invitations_by_organization = _children_loader(Invitation, "organization_id", "created_at")
        self.datasets_by_organization = _children_loader(Dataset, "organization_id", "name")
        self.asset_count_by_version = DataLoader(load_fn=asset_counts)
        self.campaign_by_version = _single_child_loader(Campaign, "version_id")
        self.task_by_asset = _single_child_loader(Task, "asset_id")
        self.steps_by_campaign = _children_loader(Step, "campaign_id", "position")
        self.assignees_by_step = _children_loader(StepAssignee, "step_id", "position")
        self.events_by_task = _children_loader(TaskEvent, "task_id")
        self.issues_by_asset = _children_loader(Issue, "asset_id")
        self.comments_by_issue = _children_loader(IssueComment, "issue_id")
        self.open_issue_count_by_asset = DataLoader(load_fn=_open_issue_counts)

    def by_id(self, model: type[Model]) -> DataLoader:
        if model not in self._by_id:
            self._by_id[model] = _by_id_loader(model)
        return self._by_id[model]

    async def get(self, model: type[Model], pk: int | None) -> Model | None:
        return None if pk is None else await self.by_id(model).load(pk)
