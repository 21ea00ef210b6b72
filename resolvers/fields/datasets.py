"""What the fields of datasets, versions and assets fetch (schema/types/datasets.py and
assets.py wrap the rows)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stepwise.models.queries.assets import asset_page

if TYPE_CHECKING:
    from stepwise.schema.context import Info


async def viewer_dataset_role(info: Info, dataset):
    """The viewer's role on the dataset (organization admins act as MANAGER), None without one."""
    return await info.context.access.dataset_role(dataset.id, dataset.organization_id)


async def dataset_workers(info: Info, dataset_id: int) -> list:
    return await info.context.loaders.workers_by_dataset.load(dataset_id)


async def dataset_versions(info: Info, dataset_id: int) -> list:
    return await info.context.loaders.versions_by_dataset.load(dataset_id)


async def version_labels(info: Info, version_id: int) -> list:
    return await info.context.loaders.labels_by_version.load(version_id)


async def version_asset_count(info: Info, version_id: int) -> int:
    return await info.context.loaders.asset_count_by_version.load(version_id)


async def version_asset_page(version_id: int, first: int, after_id: int) -> tuple[list, bool]:
    """Up to `first` asset rows after `after_id`, and whether more follow."""
    return await asset_page(version_id, first, after_id)


async def version_campaign(info: Info, version_id: int):
    """The version's campaign row, or None."""
    return await info.context.loaders.campaign_by_version.load(version_id)


async def asset_task(info: Info, asset_id: int):
    """The asset's task row in its version's campaign, or None before launch."""
    return await info.context.loaders.task_by_asset.load(asset_id)
