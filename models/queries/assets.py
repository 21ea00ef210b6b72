"""Read side of assets: keyset pages on the (version_id, id) index, and counts."""

from __future__ import annotations

from tortoise.functions import Count

from stepwise.models.db.datasets import Asset
from stepwise.models.queries.rows import AssetRow, asset_rows


async def asset_page(version_id: int, first: int, after_id: int) -> tuple[list[AssetRow], bool]:
    """Up to `first` assets after `after_id` in id order, and whether more follow."""
    rows = await asset_rows("version_id = ? AND id > ?", [version_id, after_id], f"ORDER BY id LIMIT {first + 1}")
    return rows[:first], len(rows) > first


async def asset_counts(version_ids: list[int]) -> list[int]:
    """How many assets each version holds, in one grouped query."""
    rows = await (
        Asset.filter(version_id__in=version_ids).annotate(n=Count("id")).group_by("version_id").values_list("version_id", "n")
    )
    counts = dict(rows)
    return [counts.get(version_id, 0) for version_id in version_ids]
