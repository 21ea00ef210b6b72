"""Raw SQL through Tortoise's connection, for set-based work: one statement for many rows."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient, TransactionalDBClient
from tortoise.transactions import in_transaction

from stepwise.models.db.sqlite_engine import InlineSqliteClient

_QMARK = re.compile(r"\?")


def current_connection() -> BaseDBAsyncClient:
    """The connection of the enclosing transaction, if any (Tortoise keeps it in a context var)."""
    return connections.get("default")


def transaction():
    """One write transaction. On SQLite it runs on the event loop (models/db/sqlite_engine.py):
    for work of a few indexed statements, like a task's transition; see bulk_transaction(). The
    tests fail any of its statements that runs longer than the loop budget (sqlite_inline.py)."""
    return in_transaction("default")


def bulk_transaction():
    """One write transaction whose cost grows with the data (a launch, a bulk insert): on SQLite
    it runs on a connection thread so that other requests go on meanwhile. Inside a transaction
    already, a nested one (a savepoint) of the same connection."""
    conn = current_connection()
    if isinstance(conn, InlineSqliteClient):
        return conn.offloaded_transaction()
    return in_transaction("default")


def is_postgres(conn: BaseDBAsyncClient) -> bool:
    return conn.capabilities.dialect == "postgres"


def to_dialect(conn: BaseDBAsyncClient, sql: str) -> str:
    """Write queries with `?`; PostgreSQL wants `$1, $2, ...`."""
    if not is_postgres(conn):
        return sql
    counter = iter(range(1, 10_000))
    return _QMARK.sub(lambda _: f"${next(counter)}", sql)


def json_param(value):
    """A JSON column's parameter: both drivers take the text."""
    return None if value is None else json.dumps(value)


async def fetch(sql: str, params: Sequence[Any] = ()) -> list:
    conn = current_connection()
    _, rows = await conn.execute_query(to_dialect(conn, sql), list(params))
    return list(rows)


async def fetch_scan(sql: str, params: Sequence[Any] = ()) -> list:
    """A read whose cost grows with the data (a count or an aggregate over a campaign): on SQLite,
    outside a transaction, it runs on a connection thread rather than stall the event loop."""
    conn = current_connection()
    if isinstance(conn, InlineSqliteClient):
        return list(await conn.offloaded_fetch(sql, list(params)))
    return await fetch(sql, params)


async def concurrent_reads(reads: Sequence[Callable[[], Awaitable[None]]]) -> None:
    """Independent reads (coroutine functions). On PostgreSQL outside a transaction they run at
    once, each on its own connection of the pool, so the caller waits for the slowest instead of
    the sum of their round trips; elsewhere (SQLite answers on the loop, a transaction has one
    connection) one after the other, in order."""
    conn = current_connection()
    if len(reads) > 1 and is_postgres(conn) and not isinstance(conn, TransactionalDBClient):
        running = [asyncio.ensure_future(read()) for read in reads]
        try:
            await asyncio.gather(*running)
        except BaseException:
            # One failed (or the caller was cancelled): the others stop too, and are awaited so
            # that none goes on using a connection, or fails later with nobody to hear it.
            for read in running:
                read.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            raise
        return
    for read in reads:
        await read()


def model_columns(model, alias: str = "") -> tuple[list[str], str]:
    """A model's database columns, and the SELECT list naming them (prefixed by a table alias)."""
    columns = list(model._meta.fields_db_projection.values())
    prefix = f"{alias}." if alias else ""
    return columns, ", ".join(f'{prefix}"{c}"' for c in columns)


def model_from_row(model, columns: list[str], values: Sequence[Any]):
    """The object a queryset would return for these column values (Tortoise's own conversion)."""
    return model._init_from_db(**dict(zip(columns, values, strict=True)))


async def next_id(table: str) -> int:
    """The id the table's next row gets at least (ids only grow): rows written from here on in this
    transaction are those with id >= it."""
    return (await fetch(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}"))[0][0]


async def fetch_models(model, where: str, params: Sequence[Any] = (), suffix: str = "") -> list:
    """Model instances from one plain SELECT, without building the query through pypika, which
    costs more than the round trip for the small reads of every request."""
    columns, names = model_columns(model)
    rows = await fetch(f'SELECT {names} FROM "{model._meta.db_table}" WHERE {where} {suffix}', params)
    return [model_from_row(model, columns, row) for row in rows]


def _run_in_order(connection, statements: list) -> list[tuple[int, list]]:
    """On the SQLite connection's own thread: each statement in turn; the rows each changed, and
    the rows it returned (RETURNING: its count is known only once they are read)."""
    results = []
    for statement, params in statements:
        cursor = connection.execute(statement, params)
        rows = cursor.fetchall()
        results.append((cursor.rowcount, rows))
    return results


async def execute_all(statements: Sequence[tuple[str, Sequence[Any]]], *, together: int = 0) -> list[int]:
    """Several writes of the enclosing transaction, in order; the rows each changed. On SQLite one
    call runs them all (one trip when the transaction runs on the connection thread); PostgreSQL
    runs the first `together` as one statement (see merge_writes), the rest one after the other."""
    return [changed for changed, _ in await execute_all_returning(statements, together=together)]


async def execute_all_returning(statements: Sequence[tuple[str, Sequence[Any]]], *,
                                together: int = 0) -> list[tuple[int, list]]:
    """execute_all(), with the rows each statement returned (PostgreSQL returns rows only for a
    statement that starts with SELECT or WITH, as Tortoise's client fetches only for those; and
    none for the `together` first ones)."""
    conn = current_connection()
    if not isinstance(conn, TransactionalDBClient):
        raise RuntimeError("execute_all() runs inside sql.transaction(): its writes commit together")
    if is_postgres(conn):
        results: list[tuple[int, list]] = []
        if together > 1:
            merged, params = merge_writes(statements[:together])
            _, rows = await conn.execute_query(to_dialect(conn, merged), params)
            results = [(changed, []) for changed in rows[0]]
            statements = statements[together:]
        for statement, params in statements:
            results.append(tuple(await conn.execute_query(to_dialect(conn, statement), list(params))))
        return results
    statements = [(statement, list(params)) for statement, params in statements]
    async with conn.acquire_connection() as connection:
        for statement, params in statements:
            conn.log.debug("%s: %s", statement, params)  # as Tortoise logs each statement
        # aiosqlite's own way to run a function on its thread (InlineConnection runs it in place).
        return await connection._execute(_run_in_order, connection._conn, statements)


def merge_writes(statements: Sequence[tuple[str, Sequence[Any]]]) -> tuple[str, list]:
    """PostgreSQL: INSERT/UPDATE/DELETE statements as one, each a data-modifying CTE, in one round
    trip instead of one each; it returns one row, the rows each changed. They all run on the
    snapshot from before the statement, so none may read what another of them writes, nor change
    a row another one changes (PostgreSQL's rule for such CTEs)."""
    parts, params = [], []
    for k, (statement, values) in enumerate(statements):
        if not statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")) or "RETURNING" in statement.upper():
            raise ValueError(f"merge_writes() takes plain INSERT/UPDATE/DELETE statements: {statement[:60]}")
        parts.append(f"w{k} AS ({statement} RETURNING 1)")
        params += values
    counts = ", ".join(f"(SELECT COUNT(*) FROM w{k})" for k in range(len(statements)))
    return f"WITH {', '.join(parts)} SELECT {counts}", params


async def execute(sql: str, params: Sequence[Any] = ()) -> int:
    """Run a statement; the number of rows it changed (UPDATE, DELETE: Tortoise's asyncpg client
    reads an INSERT's count from the wrong word of PostgreSQL's status and reports 0)."""
    conn = current_connection()
    changed, _ = await conn.execute_query(to_dialect(conn, sql), list(params))
    return changed


async def execute_many(sql: str, rows: Sequence[Sequence[Any]]) -> None:
    if rows:
        conn = current_connection()
        await conn.execute_many(to_dialect(conn, sql), [list(r) for r in rows])


async def copy_rows(table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """PostgreSQL only: COPY the rows into the table, in the current transaction: the bulk path for
    a big insert (no statement text to parse, no array parameters to unnest). A constraint it
    breaks raises IntegrityError, as an INSERT's would."""
    import asyncpg  # PostgreSQL's driver: only imported where PostgreSQL is used
    from tortoise.exceptions import IntegrityError

    async with current_connection().acquire_connection() as connection:
        try:
            await connection.copy_records_to_table(table, records=rows, columns=list(columns))
        except asyncpg.exceptions.IntegrityConstraintViolationError as error:
            raise IntegrityError(error) from error


def sqlite_timestamp(moment: datetime) -> str:
    """A datetime as the text Tortoise's SQLite adapter stores (`isoformat(" ")`), for a bulk
    insert to convert once: the adapter is a Python call per value (0.5 s of CPU for the 200,000
    timestamps of a 100,000-asset import)."""
    return moment.isoformat(" ")
