"""Raw SQL through Tortoise's connection, for set-based work: one statement for many rows."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient

_QMARK = re.compile(r"\?")


def current_connection() -> BaseDBAsyncClient:
    """The connection of the enclosing transaction, if any (Tortoise keeps it in a context var)."""
    return connections.get("default")


def is_postgres(conn: BaseDBAsyncClient) -> bool:
    return conn.capabilities.dialect == "postgres"


def to_dialect(conn: BaseDBAsyncClient, sql: str) -> str:
    """Write queries with `?`; PostgreSQL wants `$1, $2, ...`."""
    if not is_postgres(conn):
        return sql
    counter = iter(range(1, 10_000))
    return _QMARK.sub(lambda _: f"${next(counter)}", sql)


def for_update() -> str:
    """Row locks where the database has them (PostgreSQL); SQLite's BEGIN IMMEDIATE already
    serializes writers."""
    return " FOR UPDATE" if is_postgres(current_connection()) else ""


def json_param(value):
    """A JSON column's parameter: both drivers take the text."""
    return None if value is None else json.dumps(value)


async def fetch(sql: str, params: Sequence[Any] = ()) -> list:
    conn = current_connection()
    _, rows = await conn.execute_query(to_dialect(conn, sql), list(params))
    return list(rows)


async def execute(sql: str, params: Sequence[Any] = ()) -> int:
    """Run a statement; the number of rows it changed."""
    conn = current_connection()
    changed, _ = await conn.execute_query(to_dialect(conn, sql), list(params))
    return changed


async def execute_many(sql: str, rows: Sequence[Sequence[Any]]) -> None:
    if rows:
        conn = current_connection()
        await conn.execute_many(to_dialect(conn, sql), [list(r) for r in rows])
