"""Per-operation DataLoaders: one batched query per relation, whatever the page size."""

from __future__ import annotations

from collections import defaultdict

from strawberry.dataloader import DataLoader
from tortoise.models import Model

from stepwise.models.db.accounts import Invitation, Membership
from stepwise.models.db.datasets import Dataset, DatasetVersion, DatasetWorker, Label
from stepwise.models.queries.assets import asset_counts


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


class Loaders:
    """Built fresh for each operation (never shared: a cache must not cross viewers)."""

    def __init__(self) -> None:
        self._by_id: dict[type[Model], DataLoader] = {}
        self.labels_by_version = _children_loader(Label, "version_id", "name")
        self.versions_by_dataset = _children_loader(DatasetVersion, "dataset_id")
        self.workers_by_dataset = _children_loader(DatasetWorker, "dataset_id")
        self.memberships_by_organization = _children_loader(Membership, "organization_id")
        self.memberships_by_user = _children_loader(Membership, "user_id")
        self.invitations_by_organization = _children_loader(Invitation, "organization_id", "created_at")
        self.datasets_by_organization = _children_loader(Dataset, "organization_id", "name")
        self.asset_count_by_version = DataLoader(load_fn=asset_counts)

    def by_id(self, model: type[Model]) -> DataLoader:
        if model not in self._by_id:
            self._by_id[model] = _by_id_loader(model)
        return self._by_id[model]

    async def get(self, model: type[Model], pk: int | None) -> Model | None:
        return None if pk is None else await self.by_id(model).load(pk)
