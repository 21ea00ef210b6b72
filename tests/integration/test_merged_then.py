"""sql.execute_merged_then (PostgreSQL): the `then` write of a merged statement runs only once the
merged writes are done. A transition relies on it to take the event log's seq row lock last
(models/actions/event_log.py); shown here by locks, not by timing: while a merged write waits for
a row another transaction holds, the row `then` writes is still free."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from tests.integration.test_sqlite_engine import database

from stepwise.models.db import sql

THEN = sql.Then("bumped AS (INSERT INTO seq_row (id, n) SELECT CAST(? AS INTEGER), 1 FROM done"
                " ON CONFLICT (id) DO UPDATE SET n = seq_row.n + 1 RETURNING n)",
                "INSERT INTO log_row (n) SELECT n FROM bumped RETURNING n", [1])


async def _waiting_for_a_lock(url: str) -> None:
    """Until some backend of this database waits for a row lock."""
    admin = await asyncpg.connect(url)
    try:
        while not await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                                       " AND wait_event_type = 'Lock'"):
            await asyncio.sleep(0.02)
    finally:
        await admin.close()


async def test_then_takes_its_row_only_after_the_merged_writes(database_url):
    if not database_url.startswith("postgres"):
        pytest.skip("merged statements are PostgreSQL's (SQLite runs a transaction's writes one call)")
    async with database(database_url):
        for statement in ("CREATE TABLE counted (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)",
                          "CREATE TABLE seq_row (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)",
                          "CREATE TABLE log_row (n INTEGER NOT NULL)",
                          "INSERT INTO counted VALUES (1, 0)", "INSERT INTO seq_row VALUES (1, 10)"):
            await sql.execute(statement)
        holder = await asyncpg.connect(database_url)
        other = await asyncpg.connect(database_url)
        try:
            await holder.execute("BEGIN; UPDATE counted SET n = n + 100 WHERE id = 1")

            async def merged() -> tuple[list[int], list]:
                async with sql.transaction():
                    return await sql.execute_merged_then(
                        [("UPDATE counted SET n = n + 1 WHERE id = ?", [1]),
                         ("INSERT INTO log_row (n) VALUES (?)", [0])], THEN)

            writing = asyncio.create_task(merged())
            await asyncio.wait_for(_waiting_for_a_lock(database_url), 30)
            # The merged UPDATE waits for `holder`; `then`'s row is not taken yet.
            async with other.transaction():
                assert await other.fetchval("SELECT n FROM seq_row WHERE id = 1 FOR UPDATE NOWAIT") == 10
            await holder.execute("COMMIT")
            counts, rows = await asyncio.wait_for(writing, 30)
        finally:
            await holder.close()
            await other.close()
        assert counts == [1, 1] and rows == [(11,)]
        assert (await sql.fetch("SELECT n FROM counted"))[0][0] == 101
        assert sorted(row[0] for row in await sql.fetch("SELECT n FROM log_row")) == [0, 11]
