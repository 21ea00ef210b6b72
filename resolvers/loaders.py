"""Per-operation DataLoaders: one batched query per relation, whatever the page size."""

from __future__ import annotations

from functools import cached_property, partial

from strawberry.dataloader import DataLoader

from stepwise.models.db.accounts import Invitation, Membership
from stepwise.models.db.datasets import Asset, Dataset, DatasetVersion, DatasetWorker, Label
from stepwise.models.db.campaigns import Campaign, Step, StepAssignee, Task, TaskEvent
from stepwise.models.db.files import CampaignInstructions
from stepwise.models.db.issues import Issue, IssueComment
from stepwise.models.queries.assets import asset_counts
from stepwise.models.queries.batches import children_by_parent_ids, model_rows, open_issue_counts, rows_by_keys
from stepwise.models.queries.rows import asset_rows, task_rows


def _keyed_loader(fetch, key: str = "id") -> DataLoader:
    """The one row whose `key` column is each given value, or None (models/queries/batches.py)."""
    return DataLoader(load_fn=partial(rows_by_keys, fetch, key))


def _models(model: type):
    return model_rows(model)


def _children_loader(model: type, parent_field: str, order_by: str = "id") -> DataLoader:
    return DataLoader(load_fn=partial(children_by_parent_ids, model, parent_field, order_by))


class Loaders:
    """Built fresh for each operation (never shared: a cache must not cross viewers). Each
    loader is made on first use: a request needs one or two of them."""

    def __init__(self) -> None:
        # Assets and tasks come as lean rows: pages list a hundred of them at a time.
        self._by_id: dict[type, DataLoader] = {Asset: _keyed_loader(asset_rows), Task: _keyed_loader(task_rows)}

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
        return DataLoader(load_fn=open_issue_counts)

    def by_id(self, model: type) -> DataLoader:
        if model not in self._by_id:
            self._by_id[model] = _keyed_loader(_models(model))
        return self._by_id[model]

    async def get(self, model: type, pk: int | None):
        return None if pk is None else await self.by_id(model).load(pk)
