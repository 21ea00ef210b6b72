"""Adding assets to a version, in bulk, with optional pre-existing annotations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from tortoise.exceptions import IntegrityError

from stepwise.models.actions.datasets import find_version
from stepwise.models.actions.new_assets import add_tasks_for_new_assets
from stepwise.models.actions.rollups import (
    POSTGRES_QUALITY_COUNT_UPSERT,
    QUALITY_COUNT_UPSERT,
    QualityCounts,
    quality_count_columns,
    quality_counts_of,
    quality_counts_write,
)
from stepwise.models.db import sql
from stepwise.models.db.datasets import Asset, Label
from stepwise.models.errors import DomainError, ErrorCode, invalid_input
from stepwise.models.events import TasksCreated
from stepwise.models.queries.rows import AssetRow
from stepwise.models.shapes import ShapeDraft, validate_shapes
from stepwise.models.validation import require_dimension, require_filename, require_url
from stepwise.permissions.access import Access
from stepwise.permissions.operations import operation

MAX_ASSETS_PER_CALL = 10_000
ADD_ASSETS = operation("Mutation.addAssets")
# Keeps every statement under SQLite's and asyncpg's bound-parameter limits.
BATCH = 500


@dataclass(frozen=True)
class AssetDraft:
    filename: str
    width: int
    height: int
    url: str | None = None
    shapes: Sequence[ShapeDraft] | None = None


ASSET_COLUMNS = "version_id, filename, width, height, url, annotation, annotation_updated_at, created_at"
# PostgreSQL: ids taken from the sequence first, then every row in one statement, each column one
# array parameter.
POSTGRES_IDS = "SELECT nextval(pg_get_serial_sequence('asset', 'id')) FROM generate_series(1, ?::int)"
INSERT_UNNEST = (f"INSERT INTO asset (id, {ASSET_COLUMNS}) SELECT id, ?, f, w, h, u, a, au, c FROM unnest(CAST(? AS INTEGER[]),"
                 " CAST(? AS VARCHAR[]), CAST(? AS INTEGER[]), CAST(? AS INTEGER[]), CAST(? AS VARCHAR[]), CAST(? AS JSONB[]),"
                 " CAST(? AS TIMESTAMPTZ[]), CAST(? AS TIMESTAMPTZ[])) AS t(id, f, w, h, u, a, au, c)")
INSERT_ROW = f"INSERT INTO asset ({ASSET_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"


def _validated_rows(drafts: Sequence[AssetDraft], label_ids: dict[str, int]) -> tuple[list[tuple], QualityCounts]:
    """The asset rows (from filename on), every draft checked, and their quality counts; plain
    tuples, not ORM objects: a call carries up to 10,000 of them."""
    now = datetime.now(UTC)
    seen: set[str] = set()
    rows = []
    sized_shapes = []
    for index, draft in enumerate(drafts):
        path = f"input.assets.{index}"
        filename = require_filename(draft.filename, f"{path}.filename")
        if filename in seen:
            raise invalid_input(f"{path}.filename", f"{filename!r} appears twice in this call.")
        seen.add(filename)
        width = require_dimension(draft.width, f"{path}.width")
        height = require_dimension(draft.height, f"{path}.height")
        annotation = None
        if draft.shapes is not None:
            annotation = validate_shapes(draft.shapes, label_ids, width, height, f"{path}.shapes")
        rows.append((filename, width, height, require_url(draft.url, f"{path}.url"),
                     None if annotation is None else orjson.dumps(annotation).decode(), now if annotation is not None else None, now))
        sized_shapes.append((width, height, annotation))
    return rows, quality_counts_of(sized_shapes)


async def _insert(version_id: int, rows: list[tuple]) -> list[AssetRow]:
    """The rows inserted, as read back they would be, in their order: one statement on PostgreSQL
    (arrays unnested, ids from the sequence), one prepared statement run per row on SQLite."""
    if sql.is_postgres(sql.current_connection()):
        ids = await reserved_asset_ids(len(rows))
        await sql.execute(INSERT_UNNEST, [version_id, ids, *map(list, zip(*rows, strict=True))])
    else:
        stamp = sql.sqlite_timestamp(rows[0][6])  # every row has the same time: converted once
        await sql.execute_many(INSERT_ROW, [(version_id, f, w, h, u, a, None if a is None else stamp, stamp)
                                            for f, w, h, u, a, _, _ in rows])
        # One writer at a time on SQLite, and the rows' ids follow one another (AUTOINCREMENT
        # gives each the one after the last): this call's are the len(rows) up to the last.
        last = (await sql.fetch("SELECT last_insert_rowid()"))[0][0]
        ids = range(last - len(rows) + 1, last + 1)
    return [AssetRow((asset_id, version_id, f, w, h, u, a, updated_at, None, created_at))
            for asset_id, (f, w, h, u, a, updated_at, created_at) in zip(ids, rows, strict=True)]


async def reserved_asset_ids(count: int) -> list[int]:
    """PostgreSQL: `count` new asset ids taken from the sequence, in order (the rows inserted
    with them then come back without a read)."""
    return sorted(row[0] for row in await sql.fetch(POSTGRES_IDS, [count]))


async def add_quality_counts(version_id: int, counts: dict[tuple[str, int, float], int], postgres: bool) -> None:
    """Counts from rollups.quality_counts_of added to the version's: one statement over the
    columns on PostgreSQL, one prepared statement per row on SQLite."""
    if counts and postgres:
        await sql.execute(POSTGRES_QUALITY_COUNT_UPSERT, [version_id, *quality_count_columns(counts)])
    elif counts:
        await sql.execute_many(QUALITY_COUNT_UPSERT, [(version_id, *key, n) for key, n in counts.items()])


async def _existing_filenames(version_id: int, filenames: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(filenames), BATCH):
        chunk = filenames[start : start + BATCH]
        found.update(await Asset.filter(version_id=version_id, filename__in=chunk).values_list("filename", flat=True))
    return found


async def add_assets(access: Access, version_id: int, drafts: Sequence[AssetDraft]) -> tuple[list[AssetRow], TasksCreated | None]:
    """Insert every asset or none; a filename already in the version is INVALID_INPUT. With the
    range of the new tasks' events (if the campaign gave them tasks), to publish after commit."""
    version, _ = await find_version(access, version_id, ADD_ASSETS)
    if not drafts:
        raise invalid_input("input.assets", "Give at least one asset.")
    if len(drafts) > MAX_ASSETS_PER_CALL:
        raise invalid_input("input.assets", f"At most {MAX_ASSETS_PER_CALL} assets per call; got {len(drafts)}.")
    label_ids = dict(await Label.filter(version_id=version.id).values_list("name", "id"))
    rows, (counts, left) = _validated_rows(drafts, label_ids)
    filenames = [row[0] for row in rows]
    try:
        async with sql.bulk_transaction():
            added = await _insert(version.id, rows)
            await _count_quality(version.id, counts, [added[index].id for index in left])
            created = await add_tasks_for_new_assets(version.id, [(a.id, a.has_annotation) for a in added])
    except IntegrityError:
        # The unique (version, filename) index refused a row: name the first clash for the client.
        clash = await _existing_filenames(version.id, filenames)
        if clash:
            index = next(i for i, name in enumerate(filenames) if name in clash)
            raise invalid_input(f"input.assets.{index}.filename", f"{filenames[index]!r} is already in this version.") from None
        raise DomainError(ErrorCode.INVALID_INPUT, "A filename was added concurrently; retry.", "input.assets") from None
    return added, created


async def _count_quality(version_id: int, counts: dict, polygon_asset_ids: list[int]) -> None:
    """The new assets' areas, shapes and shape counts into the version's quality counts: counted
    in Python (rollups.quality_counts_of, as an import does) but for the assets with a POLYGON,
    which the statement counts (by id: on PostgreSQL a concurrent call may add rows meanwhile)."""
    postgres = sql.is_postgres(sql.current_connection())
    await add_quality_counts(version_id, counts, postgres)
    for start in range(0, len(polygon_asset_ids), BATCH):
        chunk = polygon_asset_ids[start : start + BATCH]
        await sql.execute(*quality_counts_write(postgres, f"a.id IN ({', '.join('?' * len(chunk))})", chunk, 1,
                                                asset_areas=True))
