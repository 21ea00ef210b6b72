"""SQLite: short statements run on the event loop, long work on a connection thread, and neither a
lock held by another process nor a long transaction stalls the loop (models/db/sqlite_engine.py).

"Another process" is a plain sqlite3 connection of this test holding the write lock: to SQLite
that is the same thing. Every check is an order of events, not a duration."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from contextlib import asynccontextmanager

import pytest
from campaign_helpers import LAUNCH, campaign_with_steps
from tortoise import Tortoise
from tortoise.exceptions import IntegrityError, OperationalError, TransactionManagementError

from stepwise.models import clock
from stepwise.models.db import sql, tortoise_config
from stepwise.models.db.accounts import Organization
from stepwise.models.db.lifecycle import apply_migrations
from stepwise.schema.ids import parse_id
from tests.conftest import LOOP_BUDGET_MS, SQLITE_ENGINE, build_world

# Half a second or more of work for SQLite, in one statement.
SLOW_COUNT = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT COUNT(*) FROM c"


@asynccontextmanager
async def database(url: str, busy_timeout_ms: int | None = None, loop_budget_ms: float = LOOP_BUDGET_MS,
                   sqlite_engine: str = "inline"):
    """Tortoise on `url` with the engine under test, the loop budget on as in the whole suite."""
    config = tortoise_config(url, sqlite_engine, loop_budget_ms)
    if busy_timeout_ms is not None:
        config["connections"]["default"]["credentials"]["busy_timeout"] = busy_timeout_ms
    await Tortoise.init(config=config, _enable_global_fallback=True)
    try:
        yield
    finally:
        await Tortoise.close_connections()


@pytest.fixture
async def sqlite_file(sqlite_url):
    await apply_migrations(sqlite_url)
    return sqlite_url


def other_process_holding_the_write_lock(url: str) -> sqlite3.Connection:
    other = sqlite3.connect(url.removeprefix("sqlite://"), isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    return other


async def names() -> list[str]:
    return [row[0] for row in await sql.fetch("SELECT name FROM organization ORDER BY id")]


async def create_organization(name: str) -> None:
    async with sql.transaction():
        await Organization.create(name=name)


async def test_a_write_waits_for_another_process_lock_while_the_loop_and_reads_go_on(sqlite_file):
    async with database(sqlite_file):
        await create_organization("before")
        other = other_process_holding_the_write_lock(sqlite_file)
        write = asyncio.create_task(create_organization("after"))
        await asyncio.sleep(0.2)  # returns at all only if the waiting write leaves the loop free
        assert not write.done()
        assert await names() == ["before"]  # reads are not queued behind the waiting write
        other.execute("COMMIT")
        await write
        assert await names() == ["before", "after"]
        other.close()


async def test_a_write_gives_up_after_the_busy_timeout_with_nothing_written(sqlite_file):
    async with database(sqlite_file, busy_timeout_ms=300):
        other = other_process_holding_the_write_lock(sqlite_file)
        with pytest.raises(TransactionManagementError, match="database is locked"):
            await create_organization("never")
        other.execute("ROLLBACK")
        other.close()
        # The write lock of this process was released: the next write goes through.
        await create_organization("next")
        assert await names() == ["next"]


async def test_a_failed_write_transaction_rolls_back_and_the_next_one_commits(sqlite_file):
    async with database(sqlite_file):
        with pytest.raises(RuntimeError):
            async with sql.transaction():
                await Organization.create(name="half")
                raise RuntimeError("fault in the middle")
        await create_organization("whole")
        assert await names() == ["whole"]


async def test_a_failed_commit_is_rolled_back_and_leaves_the_connection_usable(sqlite_file):
    """COMMIT itself can fail (a full disk; here a deferred foreign key): nothing of the
    transaction may stay open for the next statements to join."""
    async with database(sqlite_file):
        async with sql.transaction():
            await sql.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
            await sql.execute("CREATE TABLE child (parent_id INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)")
        with pytest.raises(IntegrityError):
            async with sql.transaction():
                await Organization.create(name="lost")
                await sql.execute("INSERT INTO child VALUES (42)")  # refused only at COMMIT
        await create_organization("next")
        assert await names() == ["next"]
        other = sqlite3.connect(sqlite_file.removeprefix("sqlite://"))
        assert [row[0] for row in other.execute("SELECT name FROM organization")] == ["next"]
        other.close()


async def test_a_caller_cancelled_during_a_threaded_commit_that_goes_through_is_told_it_committed(
        sqlite_file, monkeypatch):
    """A COMMIT sent to the bulk connection's thread runs to its end even when the caller is
    cancelled meanwhile (a client that disconnects during a launch). The work is committed, so
    the caller must hear "done" (and go on to publish its events), not a cancellation."""
    import aiosqlite

    loop = asyncio.get_running_loop()
    commit_started = asyncio.Event()

    async def slow_commit(connection):
        def commit_slowly():
            loop.call_soon_threadsafe(commit_started.set)
            time.sleep(0.3)
            connection._conn.commit()
        await connection._execute(commit_slowly)

    async def bulk_write() -> str:
        async with sql.bulk_transaction():
            await Organization.create(name="bulk")
        return "committed"

    async with database(sqlite_file):
        monkeypatch.setattr(aiosqlite.Connection, "commit", slow_commit)
        writing = asyncio.create_task(bulk_write())
        await commit_started.wait()
        writing.cancel()
        assert await writing == "committed"
        assert not writing.cancelled()
        assert await names() == ["bulk"]
        await create_organization("next")  # both locks were let go
        assert await names() == ["bulk", "next"]


async def test_a_write_outside_a_transaction_fails_at_once_rather_than_wait_on_the_loop(sqlite_file):
    """SQLite's busy handler would sleep on the event loop, holding every request: the inline
    connection has none. (Every write of this project runs in a transaction, which waits
    asynchronously.) The other process lets go 0.3 s later, so a write that waited would pass."""
    async with database(sqlite_file):
        other = other_process_holding_the_write_lock(sqlite_file)
        letting_go = threading.Timer(0.3, lambda: other.execute("ROLLBACK"))
        letting_go.start()
        with pytest.raises(OperationalError, match="database is locked"):
            await sql.execute("INSERT INTO organization (name, created_at) VALUES ('outside', CURRENT_TIMESTAMP)")
        letting_go.join()
        other.close()
        assert await names() == []


async def test_a_cancelled_bulk_transaction_leaves_no_lock_behind(sqlite_file):
    """Cancelled while its BEGIN waits on the connection thread for another process: the BEGIN
    still runs there, and is rolled back before anything else uses the connection."""
    async with database(sqlite_file):
        other = other_process_holding_the_write_lock(sqlite_file)

        async def bulk() -> None:
            async with sql.bulk_transaction():
                await sql.execute("INSERT INTO organization (name, created_at) VALUES ('bulk', CURRENT_TIMESTAMP)")

        task = asyncio.create_task(bulk())
        await asyncio.sleep(0.2)
        task.cancel()
        other.execute("ROLLBACK")  # the BEGIN on the thread goes through now; its rollback follows
        other.close()
        with pytest.raises(asyncio.CancelledError):
            await task
        await create_organization("inline")
        async with sql.bulk_transaction():
            await Organization.create(name="bulk again")
        assert await names() == ["inline", "bulk again"]
        third = other_process_holding_the_write_lock(sqlite_file)  # would raise "locked" if one were left
        third.execute("ROLLBACK")
        third.close()


async def test_concurrent_first_scans_share_one_connection_thread(sqlite_file):
    """Threads left behind would keep the server process from exiting."""
    threads_before = threading.active_count()
    async with database(sqlite_file):
        counts = await asyncio.gather(*(sql.fetch_scan("SELECT COUNT(*) FROM organization") for _ in range(4)))
        assert [c[0][0] for c in counts] == [0, 0, 0, 0]
        assert threading.active_count() == threads_before + 1
    assert threading.active_count() == threads_before


async def bulk_transaction_in_progress(events: list[str]) -> asyncio.Task:
    """A bulk transaction that has inserted 'bulk' and now works for half a second more."""
    inserted = asyncio.Event()

    async def bulk() -> None:
        async with sql.bulk_transaction():
            await sql.execute("INSERT INTO organization (name, created_at) VALUES ('bulk', CURRENT_TIMESTAMP)")
            inserted.set()
            await sql.fetch(SLOW_COUNT)
        events.append("bulk committed")

    task = asyncio.create_task(bulk())
    await inserted.wait()
    return task


@asynccontextmanager
async def ticking(events: list[str]):
    """A 'tick' in `events` every 10 ms while the event loop is free to run it."""

    async def ticks() -> None:
        while True:
            await asyncio.sleep(0.01)
            events.append("tick")

    ticker = asyncio.create_task(ticks())
    await asyncio.sleep(0.02)
    events.clear()
    try:
        yield
    finally:
        ticker.cancel()


async def test_a_bulk_transaction_runs_off_the_loop_and_hides_its_rows_until_commit(sqlite_file):
    async with database(sqlite_file):
        events: list[str] = []
        bulk = await bulk_transaction_in_progress(events)
        # Meanwhile, on the other connections: not committed yet, and not waiting for the commit.
        assert await names() == []
        assert (await sql.fetch_scan("SELECT COUNT(*) FROM organization"))[0][0] == 0
        events.append("read and counted during the bulk transaction")
        inline_write = asyncio.create_task(create_organization("inline"))
        await bulk
        await inline_write
        assert events == ["read and counted during the bulk transaction", "bulk committed"]
        # One writer at a time: the inline write waited for the bulk one to commit.
        assert await names() == ["bulk", "inline"]


async def test_a_scan_runs_off_the_loop(sqlite_file):
    async with database(sqlite_file):
        events: list[str] = []
        async with ticking(events):
            assert (await sql.fetch_scan(SLOW_COUNT))[0][0] == 3_000_000
            events.append("scan done")
        assert events.index("scan done") > 0, "the loop stood still while the scan ran"


async def test_an_inline_statement_holds_the_loop_so_long_work_must_be_offloaded(sqlite_file):
    """The contrast that makes the test above mean something: the same statement inline (the loop
    budget off, as in production by default; with it on the statement fails, see
    test_sqlite_engine_checks.py)."""
    async with database(sqlite_file, loop_budget_ms=0):
        events: list[str] = []
        async with ticking(events):
            await sql.fetch(SLOW_COUNT)
            events.append("inline done")
        assert events == ["inline done"]


async def test_an_in_memory_database_runs_bulk_work_on_its_only_connection():
    async with database("sqlite://:memory:"):
        await Tortoise.generate_schemas()
        async with sql.bulk_transaction():
            await Organization.create(name="bulk")
        assert (await sql.fetch_scan("SELECT COUNT(*) FROM organization"))[0][0] == 1


@pytest.mark.skipif(SQLITE_ENGINE != "inline", reason="the stock aiosqlite engine has one connection: requests wait for the launch")
async def test_requests_are_answered_while_a_large_launch_runs(sqlite_api):
    """The launch's transaction runs on the connection thread (sql.bulk_transaction): requests go
    on meanwhile, on the inline connection, and see the campaign as it was until it commits. Were
    the launch inline, no request would be answered between its start and its end."""
    api = sqlite_api
    world = await build_world(api)
    campaign, _ = await campaign_with_steps(api, world, [("Annotate", "ANNOTATION", ["contributor1"])])
    async with sql.bulk_transaction():  # 100,000 rows: too long for the event loop
        await sql.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)"
            " INSERT INTO asset (version_id, filename, width, height, url, created_at)"
            " SELECT ?, printf('f%06d.jpg', i), 10, 10, printf('https://x/f%06d.jpg', i), ? FROM n",
            [parse_id(world.ids["version"])[1], clock.now()])
    status = "query($c: ID!) { me { username } campaign(id: $c) { status tasks(first: 2) { edges { node { id } } } } }"
    launch = asyncio.create_task(api.data(LAUNCH, {"c": campaign}, world.manager))
    answers = []
    while not launch.done():
        answers.append(await api.data(status, {"c": campaign}, world.manager))
        await asyncio.sleep(0)  # an inline request never suspends: let the launch's task run too
    assert (await launch)["launchCampaign"]["errors"] == []
    before_commit = {"me": {"username": "manager1"}, "campaign": {"status": "DRAFT", "tasks": {"edges": []}}}
    assert answers.count(before_commit) >= 3, answers[:5]
    after = await api.data(status, {"c": campaign}, world.manager)
    assert after["campaign"]["status"] == "ONGOING" and len(after["campaign"]["tasks"]["edges"]) == 2
