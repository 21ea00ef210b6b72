"""Read side of assets: keyset pages on the (version_id, id) index, and counts."""

from __future__ import annotations

from stepwise.models.db import sql
from stepwise.models.queries.rows import AssetRow, asset_rows, in_list


async def asset_page(version_id: int, first: int, after_id: int) -> tuple[list[AssetRow], bool]:
    """Up to `first` assets after `after_id` in id order, and whether more follow."""
    rows = await asset_rows("version_id = ? AND id > ?", [version_id, after_id], f"ORDER BY id LIMIT {first + 1}")
    return rows[:first], len(rows) > first


async def asset_counts(version_ids: list[int]) -> list[int]:
    """How many assets each version holds, in one grouped query (off the event loop on SQLite:
    a version may hold a million assets)."""
    counts = dict(await sql.fetch_scan(
        f"SELECT version_id, COUNT(*) FROM asset WHERE version_id IN ({in_list(version_ids)}) GROUP BY version_id",
        version_ids))
    return [counts.get(version_id, 0) for version_id in version_ids]
