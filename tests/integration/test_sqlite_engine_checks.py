"""The SQLite engine's checks and housekeeping: the loop budget that fails a long statement on the
event loop, a cancelled COMMIT on a thread, WAL checkpoints off the loop, and the stock aiosqlite
engine (STEPWISE_SQLITE_ENGINE=aiosqlite). Real SQLite files, no timing asserts."""

from __future__ import annotations

import asyncio
import os
import sqlite3

import pytest
from tests.integration.test_sqlite_engine import SLOW_COUNT, create_organization, database, names
from tortoise import connections

from stepwise.models.db import sql
from stepwise.models.db.accounts import Organization
from stepwise.models.db.lifecycle import apply_migrations
from stepwise.models.db.sqlite_engine import CHECKPOINT_AFTER_PAGES, InlineSqliteClient, LoopBudgetExceeded
from tests.conftest import LOOP_BUDGET_MS, SQLITE_ENGINE


@pytest.fixture
async def sqlite_file(sqlite_url):
    await apply_migrations(sqlite_url)
    return sqlite_url


async def test_a_long_statement_on_the_loop_fails_naming_itself_and_the_connection_goes_on(sqlite_file):
    async with database(sqlite_file):
        # The time is told apart: computing (user), the kernel's (system), page faults, preemptions.
        with pytest.raises(LoopBudgetExceeded, match=r"spent \d+ ms on the event loop \(user \d+ ms, system \d+ ms, \d+ page"
                                                     r" faults, \d+ preemptions\), over the budget of 20 ms .* WITH RECURSIVE c\(x\)"):
            await sql.fetch(SLOW_COUNT)
        await create_organization("after")
        assert await names() == ["after"]


async def test_a_long_statement_in_an_inline_transaction_fails_and_nothing_of_it_commits(sqlite_file):
    async with database(sqlite_file):
        with pytest.raises(LoopBudgetExceeded):
            async with sql.transaction():
                await Organization.create(name="half")
                await sql.fetch(SLOW_COUNT)
        await create_organization("whole")
        assert await names() == ["whole"]


async def test_the_budget_leaves_work_on_a_thread_alone(sqlite_file):
    async with database(sqlite_file):
        assert (await sql.fetch_scan(SLOW_COUNT))[0][0] == 3_000_000
        async with sql.bulk_transaction():
            assert (await sql.fetch(SLOW_COUNT))[0][0] == 3_000_000


async def test_a_cancelled_commit_on_a_thread_that_went_through_reports_success(sqlite_file):
    """The caller is cancelled while the COMMIT runs on the bulk connection's thread: the COMMIT
    goes through there, so the caller must go on and publish what it committed."""
    async with database(sqlite_file):
        body_done = asyncio.Event()
        published: list[str] = []

        async def launch_like() -> None:
            async with sql.bulk_transaction():
                await sql.execute("INSERT INTO organization (name, created_at) VALUES ('bulk', CURRENT_TIMESTAMP)")
                body_done.set()  # the task goes straight on to COMMIT and waits for the thread
            published.append("events of bulk")

        task = asyncio.create_task(launch_like())
        await body_done.wait()
        task.cancel()
        await task  # no CancelledError: the work committed
        assert published == ["events of bulk"]
        assert await names() == ["bulk"]
        await create_organization("next")  # every lock was let go
        assert await names() == ["bulk", "next"]


async def test_a_cancelled_begin_on_a_thread_still_reports_the_cancellation(sqlite_file):
    async with database(sqlite_file):
        other = sqlite3.connect(sqlite_file.removeprefix("sqlite://"), isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        entered: list[str] = []

        async def bulk() -> None:
            async with sql.bulk_transaction():
                entered.append("body")

        task = asyncio.create_task(bulk())
        await asyncio.sleep(0.1)
        task.cancel()
        other.execute("ROLLBACK")
        other.close()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert entered == []


def wal_bytes(url: str) -> int:
    return os.stat(url.removeprefix("sqlite://") + "-wal").st_size


async def test_many_small_commits_on_the_loop_keep_the_wal_bounded(sqlite_file):
    """The inline connection never checkpoints (that is I/O on the loop); a thread does, once the
    log passes CHECKPOINT_AFTER_PAGES. Without it this loop leaves a WAL of ~5,000 pages."""
    async with database(sqlite_file):
        client = connections.get("default")
        assert isinstance(client, InlineSqliteClient)
        connection, _ = await client.inline_connection()
        assert connection._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        page_size = connection._conn.execute("PRAGMA page_size").fetchone()[0]
        largest = 0
        for i in range(2500):
            await create_organization(f"org {i}")
            await asyncio.sleep(0)  # as between requests: the checkpoint's task gets its turn
            largest = max(largest, wal_bytes(sqlite_file))
        assert largest <= 2 * CHECKPOINT_AFTER_PAGES * page_size, largest // page_size
        assert len(await names()) == 2500


async def test_a_bulk_commit_answers_before_its_log_is_checkpointed(sqlite_file):
    """A bulk transaction's COMMIT (a launch's: ~50 MB of log) does not copy the log into the
    database file itself: its pages are in the WAL when the transaction returns, and the
    checkpoint thread copies them afterwards (the file grows then)."""
    database_file = sqlite_file.removeprefix("sqlite://")
    async with database(sqlite_file):
        client = connections.get("default")
        assert isinstance(client, InlineSqliteClient)
        await sql.execute("CREATE TABLE filler (x BLOB)")
        before = os.stat(database_file).st_size
        async with sql.bulk_transaction():  # ~2x CHECKPOINT_AFTER_PAGES pages of 4 kB
            await sql.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)"
                              " INSERT INTO filler SELECT randomblob(3000) FROM n", [2 * CHECKPOINT_AFTER_PAGES])
        assert os.stat(database_file).st_size == before  # committed to the WAL only
        assert (await sql.fetch("SELECT COUNT(*) FROM filler"))[0][0] == 2 * CHECKPOINT_AFTER_PAGES
        await client._checkpoint  # started by the commit, on the checkpoint connection's thread
        assert os.stat(database_file).st_size > before + CHECKPOINT_AFTER_PAGES * 4096


async def test_the_stock_aiosqlite_engine_serves_every_statement_on_its_thread(sqlite_file):
    """STEPWISE_SQLITE_ENGINE=aiosqlite: Tortoise's own client, which sql.py's helpers use as is."""
    async with database(sqlite_file, sqlite_engine="aiosqlite"):
        client = connections.get("default")
        assert not isinstance(client, InlineSqliteClient)
        await create_organization("inline path")
        async with sql.bulk_transaction():
            await Organization.create(name="bulk path")
            assert await sql.execute_all([
                ("UPDATE organization SET name = name || '!' WHERE name = ?", ["bulk path"]),
            ]) == [1]
        assert (await sql.fetch_scan("SELECT COUNT(*) FROM organization"))[0][0] == 2
        assert await names() == ["inline path", "bulk path!"]


async def test_the_suite_serves_its_requests_with_the_loop_budget_on(sqlite_api):
    """tests/conftest.py passes STEPWISE_SQLITE_LOOP_BUDGET_MS=20 to every app it builds."""
    client = connections.get("default")
    if SQLITE_ENGINE == "inline":
        assert isinstance(client, InlineSqliteClient) and client.loop_budget_ms == LOOP_BUDGET_MS == 20
    else:
        assert not isinstance(client, InlineSqliteClient)
