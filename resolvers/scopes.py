"""Which organization and dataset a row belongs to, through the per-operation loaders."""

from __future__ import annotations

from stepwise.models.db.accounts import Organization
from stepwise.models.db.campaigns import Campaign
from stepwise.models.db.datasets import Dataset, DatasetVersion, Label
from stepwise.resolvers.loaders import Loaders


async def scope_of(loaders: Loaders, row) -> tuple[int, int | None]:
    """(organization id, dataset id or None) of an organization or anything inside a dataset."""
    if isinstance(row, Organization):
        return row.id, None
    if isinstance(row, Campaign):
        return row.organization_id, row.dataset_id
    if isinstance(row, Dataset):
        return row.organization_id, row.id
    if isinstance(row, Label) or hasattr(row, "version_id"):  # assets come as models or lean rows
        row = await loaders.get(DatasetVersion, row.version_id)
    if isinstance(row, DatasetVersion):
        dataset = await loaders.get(Dataset, row.dataset_id)
        return dataset.organization_id, dataset.id
    raise TypeError(f"no scope for {type(row).__name__}")
