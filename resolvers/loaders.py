"""Per-operation DataLoaders: one batched query per relation, whatever the page size."""

from __future__ import annotations

from collections import defaultdict
from functools import cached_property, partial

from strawberry.dataloader import DataLoader
from tortoise.models import Model

from stepwise.models.db import sql
from stepwise.models.db.accounts import Invitation, Membership
from stepwise.models.db.datasets import Asset, Dataset, DatasetVersion, DatasetWorker, Label
from stepwise.models.db.campaigns import Campaign, Step, StepAssignee, Task, TaskEvent
from stepwise.models.db.files import CampaignInstructions
from stepwise.models.db.issues import Issue, IssueComment, IssueStatus
from stepwise.models.queries.assets import asset_counts
from stepwise.models.queries.rows import asset_rows, in_list, task_rows


def _keyed_loader(fetch, key: str = "id") -> DataLoader:
    """The one row whose `key` column is each given value, or None; `fetch(where, params)` reads
    model objects or lean rows (models/queries/rows.py, for the hot list pages)."""

    async def load(keys: list[int]) -> list:
        rows = {getattr(row, key): row for row in await fetch(f"{key} IN ({in_list(keys)})", list(keys))}
        return [rows.get(k) for k in keys]

    return DataLoader(load_fn=load)


def _models(model: type[Model]):
    return partial(sql.fetch_models, model)


def _children_loader(model: type[Model], parent_field: str, order_by: str = "id") -> DataLoader:
    order = "id" if order_by == "id" else f"{order_by}, id"

    async def load(parent_ids: list[int]) -> list[list[Model]]:
        groups: dict[int, list[Model]] = defaultdict(list)
        for row in await sql.fetch_models(model, f"{parent_field} IN ({in_list(parent_ids)})", parent_ids,
                                          f"ORDER BY {order}"):
            groups[getattr(row, parent_field)].append(row)
        return [groups.get(i, []) for i in parent_ids]

    return DataLoader(load_fn=load)


async def _open_issue_counts(asset_ids: list[int]) -> list[int]:
    counts = dict(await sql.fetch(
        f"SELECT asset_id, COUNT(*) FROM issue WHERE asset_id IN ({in_list(asset_ids)}) AND status = ?"
        " GROUP BY asset_id", [*asset_ids, IssueStatus.OPEN.value]))
    return [counts.get(i, 0) for i in asset_ids]


class Loaders:
    """Built fresh for each operation (never shared: a cache must not cross viewers). Each
    loader is made on first use: a request needs one or two of them."""

    def __init__(self) -> None:
        # Assets and tasks come as lean rows: pages list a hundred of them at a time.
        self._by_id: dict[type[Model], DataLoader] = {Asset: _keyed_loader(asset_rows), Task: _keyed_loader(task_rows)}

    @cached_property
    def labels_by_version(self) -> DataLoader:
        return _children_loader(Label, "version_id", "name")

    @cached_property
    def versions_by_dataset(self) -> DataLoader:
        return _children_loader(DatasetVersion, "dataset_id")

    @cached_property
    def workers_by_dataset(self) -> DataLoader:
        return _children_loader(DatasetWorker, "dataset_id")

    @cached_property
    def memberships_by_organization(self) -> DataLoader:
        return _children_loader(Membership, "organization_id")

    @cached_property
    def memberships_by_user(self) -> DataLoader:
        return _children_loader(Membership, "user_id")

    @cached_property
    def invitations_by_organization(self) -> DataLoader:
        return _children_loader(Invitation, "organization_id", "created_at")

    @cached_property
    def datasets_by_organization(self) -> DataLoader:
        return _children_loader(Dataset, "organization_id", "name")

    @cached_property
    def asset_count_by_version(self) -> DataLoader:
        return DataLoader(load_fn=asset_counts)

    @cached_property
    def campaign_by_version(self) -> DataLoader:
        return _keyed_loader(_models(Campaign), "version_id")  # a version's campaign

    @cached_property
    def instructions_by_campaign(self) -> DataLoader:
        return _keyed_loader(_models(CampaignInstructions), "campaign_id")  # a campaign's PDF, if any

    @cached_property
    def task_by_asset(self) -> DataLoader:
        return _keyed_loader(_models(Task), "asset_id")  # an asset's task

    @cached_property
    def steps_by_campaign(self) -> DataLoader:
        return _children_loader(Step, "campaign_id", "position")

    @cached_property
    def assignees_by_step(self) -> DataLoader:
        return _children_loader(StepAssignee, "step_id", "position")

    @cached_property
    def events_by_task(self) -> DataLoader:
        return _children_loader(TaskEvent, "task_id")

    @cached_property
    def issues_by_asset(self) -> DataLoader:
        return _children_loader(Issue, "asset_id")

    @cached_property
    def comments_by_issue(self) -> DataLoader:
        return _children_loader(IssueComment, "issue_id")

    @cached_property
    def open_issue_count_by_asset(self) -> DataLoader:
        return DataLoader(load_fn=_open_issue_counts)

    def by_id(self, model: type[Model]) -> DataLoader:
        if model not in self._by_id:
            self._by_id[model] = _keyed_loader(_models(model))
        return self._by_id[model]

    async def get(self, model: type[Model], pk: int | None) -> Model | None:
        return None if pk is None else await self.by_id(model).load(pk)
