"""importAnnotations: a COCO file's images become new assets with their annotations, or a YOLO
zip's label files annotate assets already in the version; all or nothing.

The whole file is read and checked first, off the event loop (models/interchange/, pure); only
then one bulk transaction writes everything with each backend's bulk path: a prepared
executemany on SQLite, COPY on PostgreSQL. New assets go through
the same path as addAssets' (quality counts, and tasks with their CREATED events when the
version's campaign takes new assets); the events are returned, to publish after commit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import orjson
from tortoise.exceptions import IntegrityError

from stepwise.models import clock
from stepwise.models.actions.assets import add_quality_counts, reserved_asset_ids
from stepwise.models.actions.datasets import find_version
from stepwise.models.actions.new_assets import add_tasks_for_new_assets
from stepwise.models.actions.rollups import QualityCounts, quality_counts_of, quality_counts_write
from stepwise.models.db import sql
from stepwise.models.db.datasets import DatasetVersion
from stepwise.models.errors import DomainError, ErrorCode, invalid_input
from stepwise.models.events import TasksCreated
from stepwise.models.interchange import coco, yolo
from stepwise.models.interchange.common import FIELD, AnnotationFormat, paused_gc, refuse
from stepwise.models.queries import interchange as reads
from stepwise.models.stored_files import IncomingFile
from stepwise.permissions.access import Access
from stepwise.permissions.operations import operation

IMPORT_ANNOTATIONS = operation("Mutation.importAnnotations")
logger = logging.getLogger("stepwise.imports")


@dataclass(frozen=True)
class ImportResult:
    version: DatasetVersion
    assets_added: int
    assets_annotated: int
    shapes_added: int
    created: TasksCreated | None  # the new tasks' events, to publish after commit


def checked_upload(file: object, max_bytes: int) -> IncomingFile:
    """The streamed upload, if it came whole (its type is judged by its bytes, by the reader)."""
    if not isinstance(file, IncomingFile):
        raise invalid_input(FIELD, "Send the file as a part of a multipart request (GraphQL multipart request spec).")
    if file.too_large:
        raise DomainError(ErrorCode.FILE_TOO_LARGE, f"The file is over the upload limit ({max_bytes / (1024 * 1024):g} MB).", FIELD)
    if file.path is None:
        raise invalid_input(FIELD, "This file part was already used by another field of the request.")
    return file


async def import_annotations(access: Access, version_id: int, format: AnnotationFormat, file: object,
                             max_bytes: int) -> ImportResult:
    """Read and check the whole file, then write it in one transaction (MANAGER only)."""
    version, _ = await find_version(access, version_id, IMPORT_ANNOTATIONS)
    incoming = checked_upload(file, max_bytes)
    labels = await reads.labels_by_name(version.id)
    started = time.perf_counter()
    phases = Phases()
    with paused_gc():
        if format is AnnotationFormat.COCO:
            new = await asyncio.to_thread(_read_coco, incoming.path, labels)
            read = phases.last = time.perf_counter()
            created = await _add_assets(version.id, new, phases)
            result = ImportResult(version, len(new.rows), new.annotated, new.shapes, created)
            # The rows die while the collector is still paused: re-enabled over them, its first
            # collection would scan them all (1.5 s on the event loop for 100,000 images).
            del new
        else:
            names, files = await asyncio.to_thread(yolo.read_zip, incoming.path, incoming.head)
            assets = await reads.asset_names(version.id)
            annotations = await asyncio.to_thread(_match_yolo, names, files, labels, assets)
            read = time.perf_counter()
            await _annotate(annotations)
            result = ImportResult(version, 0, len(annotations), sum(len(s) for _, s in annotations), None)
            del names, files, assets, annotations
    logger.info("%s import into version %s: %d assets added, %d annotated, %d shapes; read %.0f ms, written %.0f ms%s",
                format.value, version.id, result.assets_added, result.assets_annotated, result.shapes_added,
                (read - started) * 1000, (time.perf_counter() - read) * 1000, phases)
    return result


class Phases:
    """Where a write's time went, for the import's log line: (name, ms) since the previous lap."""

    def __init__(self) -> None:
        self.laps: list[tuple[str, float]] = []
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps.append((name, (now - self.last) * 1000))
        self.last = now

    def __str__(self) -> str:
        return f" ({', '.join(f'{name} {ms:.0f} ms' for name, ms in self.laps)})" if self.laps else ""


@dataclass(frozen=True)
class NewAssets:
    """A COCO file's assets as the rows to insert, with what the write and the answer need."""

    rows: list[tuple]  # (filename, width, height, url, annotation as JSON text or None)
    quality: QualityCounts
    annotated: int
    shapes: int


def _read_coco(path: Path, labels: dict[str, int]) -> NewAssets:
    """Read and check the file, count its quality and encode its annotations, all off the event
    loop; the parsed shapes are freed here too, so the loop never holds them."""
    assets = coco.read(path.read_bytes(), labels)
    quality = quality_counts_of((a.width, a.height, a.shapes) for a in assets)
    dumps = orjson.dumps
    rows = [(a.filename, a.width, a.height, a.url, None if a.shapes is None else dumps(a.shapes).decode())
            for a in assets]
    annotated = sum(1 for a in assets if a.shapes is not None)
    shapes = sum(len(a.shapes) for a in assets if a.shapes)
    return NewAssets(rows, quality, annotated, shapes)


def _match_yolo(names: list[str], files: dict[str, yolo.LabelFile], labels: dict[str, int],
                assets: list[tuple[int, str, int, int]]) -> list[tuple[int, list[dict]]]:
    """(asset id, shapes) for every label file, each matched to exactly one asset by stem."""
    by_stem: dict[str, list[tuple[int, str, int, int]]] = {}
    for asset in assets:
        by_stem.setdefault(yolo.stem_of(asset[1]), []).append(asset)
    classes = [labels.get(name) for name in names]
    annotations = []
    for stem, label_file in files.items():
        matches = by_stem.get(stem, [])
        if not matches:
            raise refuse(label_file.entry, f"no asset of this version is named {stem!r} (with any extension).")
        if len(matches) > 1:
            shown = ", ".join(repr(m[1]) for m in matches[:3])
            raise refuse(label_file.entry, f"{len(matches)} assets of this version are named {stem!r}: {shown}.")
        asset_id, _, width, height = matches[0]
        annotations.append((asset_id, yolo.shapes_of(label_file, classes, names, width, height)))
    return annotations


# ---------------------------------------------------------------- writes

SQLITE_INSERT = ("INSERT INTO asset (version_id, filename, width, height, url, annotation, annotation_updated_at,"
                 " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
COPY_COLUMNS = ("id", "version_id", "filename", "width", "height", "url", "annotation", "annotation_updated_at",
                "created_at")


def _encoded(shapes: list[dict] | None) -> str | None:
    return None if shapes is None else orjson.dumps(shapes).decode()


async def _add_assets(version_id: int, new: NewAssets, phases: Phases) -> TasksCreated | None:
    """Insert the assets, add their quality counts (those counted already, then the statement
    over the assets left to it), create their tasks."""
    (counts, left), rows = new.quality, new.rows
    if not rows:
        return None
    now = clock.now()
    try:
        async with sql.bulk_transaction():
            postgres = sql.is_postgres(sql.current_connection())
            if postgres:
                # Ids taken from the sequence first (in file order), then the rows COPYed in.
                ids = await reserved_asset_ids(len(rows))
                await sql.copy_rows("asset", COPY_COLUMNS, [
                    (asset_id, version_id, name, width, height, url, annotation, None if annotation is None else now, now)
                    for asset_id, (name, width, height, url, annotation) in zip(ids, rows, strict=True)])
                phases.lap("assets")
                await add_quality_counts(version_id, counts, postgres)
                if left:
                    await sql.execute(*quality_counts_write(True, "a.id = ANY(?::int[])", [[ids[i] for i in left]], 1,
                                                            asset_areas=True))
            else:
                stamp = sql.sqlite_timestamp(now)  # converted once, not per row
                await sql.execute_many(SQLITE_INSERT, [
                    (version_id, name, width, height, url, annotation, None if annotation is None else stamp, stamp)
                    for name, width, height, url, annotation in rows])
                # One writer at a time on SQLite, and the rows' ids follow one another (AUTOINCREMENT
                # gives each the one after the last): this call's are the len(rows) up to the last.
                last = (await sql.fetch("SELECT last_insert_rowid()"))[0][0]
                ids = range(last - len(rows) + 1, last + 1)
                phases.lap("assets")
                await add_quality_counts(version_id, counts, postgres)
                if left:
                    await sql.execute(*quality_counts_write(False, "a.id IN (SELECT value FROM json_each(?))",
                                                            [orjson.dumps([ids[i] for i in left]).decode()], 1,
                                                            asset_areas=True))
            phases.lap("quality counts")
            created = await add_tasks_for_new_assets(
                version_id, [(asset_id, row[4] is not None) for asset_id, row in zip(ids, rows, strict=True)])
            phases.lap("tasks")
            return created
    except IntegrityError:
        # The unique (version, filename) index refused a row: name the first one already there.
        present = await reads.filenames(version_id)
        for index, row in enumerate(rows):
            if row[0] in present:
                raise refuse(f"images[{index}].file_name", f"{row[0]!r} is already in this version.") from None
        raise  # another constraint: a fault, not the file's (answered without internals)


# Imported annotations have no author (Annotation.updatedBy is null for them).
SQLITE_ANNOTATE = "UPDATE asset SET annotation = ?, annotation_updated_at = ?, annotation_updated_by_id = NULL WHERE id = ?"
POSTGRES_ANNOTATE = (
    "UPDATE asset SET annotation = t.a::jsonb, annotation_updated_at = ?, annotation_updated_by_id = NULL"
    " FROM unnest(?::int[], ?::text[]) AS t(id, a) WHERE asset.id = t.id")

POSTGRES_LOCK = "SELECT id FROM asset WHERE id = ANY(?::int[]) ORDER BY id FOR NO KEY UPDATE"


async def _annotate(annotations: list[tuple[int, list[dict]]]) -> None:
    """Replace the annotations of these assets; the quality counts lose the old shapes and gain
    the new ones in the same transaction."""
    if not annotations:
        return
    now = clock.now()
    ids = [asset_id for asset_id, _ in annotations]
    async with sql.bulk_transaction():
        postgres = sql.is_postgres(sql.current_connection())
        where, params = ("a.id = ANY(?::int[])", [ids]) if postgres else (
            "a.id IN (SELECT value FROM json_each(?))", [orjson.dumps(ids).decode()])
        if postgres:  # before reading the old shapes, in id order (as a workflow's end locks one: transitions.py)
            await sql.execute(POSTGRES_LOCK, [ids])
        await sql.execute(*quality_counts_write(postgres, where, params, -1))
        if postgres:
            await sql.execute(POSTGRES_ANNOTATE, [now, ids, [_encoded(s) for _, s in annotations]])
        else:
            await sql.execute_many(SQLITE_ANNOTATE, [(_encoded(s), now, i) for i, s in annotations])
        await sql.execute(*quality_counts_write(postgres, where, params, 1))
