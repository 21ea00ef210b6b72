"""Lean rows for hot list pages: plain SQL tuples instead of ORM objects.

A Tortoise object costs 10-14 µs and decodes every JSON and date column up front; a page of 100
tasks with their assets paid that 200 times. These rows carry the same attribute names as the
models, so GraphQL types accept either, and decode dates and annotations only when read.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cached_property

from stepwise.models.db import sql
from stepwise.models.workflow import TaskStatus

TASK_COLUMNS = (
    "id, campaign_id, asset_id, status, step_id, assignee_id, version, annotation, annotation_updated_at,"
    " annotation_updated_by_id, created_at, updated_at, started_at, step_entered_at"
)
ASSET_COLUMNS = (
    "id, version_id, filename, width, height, url, annotation, annotation_updated_at,"
    " annotation_updated_by_id, created_at"
)


def as_datetime(value) -> datetime | None:
    """SQLite hands dates back as text, PostgreSQL as datetimes."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def _json(value):
    return json.loads(value) if isinstance(value, (str, bytes)) else value


class TaskRow:
    def __init__(self, raw) -> None:
        self._raw = raw
        (self.id, self.campaign_id, self.asset_id, _, self.step_id, self.assignee_id, self.version) = raw[:7]
        self.annotation_updated_by_id = raw[9]

    @cached_property
    def status(self) -> TaskStatus:
        return TaskStatus(self._raw[3])

    @cached_property
    def annotation(self):
        return _json(self._raw[7])

    @cached_property
    def annotation_updated_at(self) -> datetime | None:
        return as_datetime(self._raw[8])

    @cached_property
    def created_at(self) -> datetime:
        return as_datetime(self._raw[10])

    @cached_property
    def updated_at(self) -> datetime:
        return as_datetime(self._raw[11])

    @cached_property
    def started_at(self) -> datetime | None:
        return as_datetime(self._raw[12])

    @cached_property
    def step_entered_at(self) -> datetime | None:
        return as_datetime(self._raw[13])


class AssetRow:
    def __init__(self, raw) -> None:
        self._raw = raw
        (self.id, self.version_id, self.filename, self.width, self.height, self.url) = raw[:6]
        self.annotation_updated_by_id = raw[8]

    @cached_property
    def annotation(self):
        return _json(self._raw[6])

    @property
    def has_annotation(self) -> bool:
        """Whether it has one, without decoding its JSON."""
        return self._raw[6] is not None

    @cached_property
    def annotation_updated_at(self) -> datetime | None:
        return as_datetime(self._raw[7])

    @cached_property
    def created_at(self) -> datetime:
        return as_datetime(self._raw[9])


async def task_rows(where: str, params: list, suffix: str = "", *, off_loop: bool = False) -> list[TaskRow]:
    """`off_loop`: on SQLite, read on a connection thread (sql.fetch_scan) rather than the loop."""
    fetch = sql.fetch_scan if off_loop else sql.fetch
    return [TaskRow(r) for r in await fetch(f"SELECT {TASK_COLUMNS} FROM task WHERE {where} {suffix}", params)]


async def asset_rows(where: str, params: list, suffix: str = "") -> list[AssetRow]:
    return [AssetRow(r) for r in await sql.fetch(f"SELECT {ASSET_COLUMNS} FROM asset WHERE {where} {suffix}", params)]


def in_list(values: list) -> str:
    return ",".join("?" * len(values)) or "NULL"


async def read_together(reads) -> None:
    """A page's independent relation reads (coroutine functions), at once where the backend
    allows it (sql.concurrent_reads: PostgreSQL outside a transaction), else in order."""
    await sql.concurrent_reads(reads)
