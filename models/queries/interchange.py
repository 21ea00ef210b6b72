"""Reads for imports and exports: a version's labels, and its assets in keyset pages."""

from __future__ import annotations

import orjson

from stepwise.models.db import sql

# An export reads this many assets per statement, on the scan thread (SQLite): few round trips,
# and memory bounded by one page whatever the size of the version.
EXPORT_PAGE = 2_000


async def labels_by_name(version_id: int) -> dict[str, int]:
    """The version's label ids by name, in the order the version lists them."""
    rows = await sql.fetch("SELECT name, id FROM label WHERE version_id = ? ORDER BY id", [version_id])
    return {name: label_id for name, label_id in rows}


async def asset_names(version_id: int) -> list[tuple[int, str, int, int]]:
    """(id, filename, width, height) of every asset of the version (a scan: YOLO matching)."""
    return [tuple(row) for row in await sql.fetch_scan(
        "SELECT id, filename, width, height FROM asset WHERE version_id = ? ORDER BY id", [version_id])]


async def filenames(version_id: int) -> set[str]:
    return {row[0] for row in await sql.fetch_scan("SELECT filename FROM asset WHERE version_id = ?", [version_id])}


async def last_asset_id(version_id: int) -> int:
    """Where an export stops: assets added while it streams are left for the next one."""
    rows = await sql.fetch("SELECT MAX(id) FROM asset WHERE version_id = ?", [version_id])
    return rows[0][0] or 0


async def image_page(version_id: int, after: int, last: int) -> tuple[list[tuple], int | None]:
    """(id, filename, width, height, url) of the next page of assets after `after`, up to `last`,
    and the id to continue after (None: the end)."""
    rows = await sql.fetch_scan(
        "SELECT id, filename, width, height, url FROM asset WHERE version_id = ? AND id > ? AND id <= ?"
        f" ORDER BY id LIMIT {EXPORT_PAGE}", [version_id, after, last])
    return rows, (rows[-1][0] if len(rows) == EXPORT_PAGE else None)


async def annotation_page(version_id: int, after: int, last: int) -> tuple[list[tuple], int | None]:
    """(id, filename, width, height, annotation as stored: parsed_shapes() reads it) of the next
    page of annotated assets after `after`, and the id to continue after (None: the end)."""
    rows = await sql.fetch_scan(
        "SELECT id, filename, width, height, annotation FROM asset WHERE version_id = ? AND id > ? AND id <= ?"
        f" AND annotation IS NOT NULL ORDER BY id LIMIT {EXPORT_PAGE}", [version_id, after, last])
    return [tuple(row) for row in rows], (rows[-1][0] if len(rows) == EXPORT_PAGE else None)


async def stored_annotation_page(version_id: int, after: int, last: int) -> tuple[list[tuple], int | None]:
    """`annotation_page` with only (id, annotation as stored): what a COCO export's annotations need."""
    rows = await sql.fetch_scan(
        "SELECT id, annotation FROM asset WHERE version_id = ? AND id > ? AND id <= ?"
        f" AND annotation IS NOT NULL ORDER BY id LIMIT {EXPORT_PAGE}", [version_id, after, last])
    return rows, (rows[-1][0] if len(rows) == EXPORT_PAGE else None)


def parsed_shapes(value) -> list:
    """An annotation column's shapes."""
    # SQLite hands the JSON text, asyncpg too (no codec is set for jsonb).
    return orjson.loads(value) if isinstance(value, (str, bytes)) else value
