"""Tortoise's SQLite engine for this server: short statements run inline, long ones on a thread.

aiosqlite runs every statement on the connection's own thread: a trip there and back through the
event loop. With several requests in flight those trips (thread wake-ups, GIL hand-overs) cost
more than the statements themselves: 8 clients submitting got ~290 submits/s with ten trips per
submit, ~570/s with none (docs/benchmarks.md). So the default connection runs sqlite3 directly
on the event loop: an indexed read, a page or a one-task transaction takes microseconds.

Work whose cost grows with the data (a launch of 100,000 tasks, bulk inserts, counts over a
campaign) would stall every request while it runs: it goes to aiosqlite connections on their own
threads (`offloaded_transaction`, `offloaded_fetch`; models/db/sql.py says which work). In
development and tests a loop budget makes any inline statement that runs long fail, naming
itself (models/db/sqlite_inline.py).

WAL checkpoints copy the log back into the database file and sync it: I/O that no connection
runs as part of its commit (wal_autocheckpoint=0 on all of them). After a commit that leaves the
log past CHECKPOINT_AFTER_PAGES, a PASSIVE checkpoint runs on a connection thread of its own. For
the inline connection that keeps the I/O off the loop; for the bulk one, it keeps a launch's answer
from waiting for the checkpoint of its 50 MB of log (~180 ms of a 100,000-task launch).

Writes: one write transaction at a time per process, whichever connection (`write_lock`), opened
with BEGIN IMMEDIATE so that SQLite's write lock is taken up front and the busy timeout applies
(a deferred BEGIN that reads first cannot wait for it: "database is locked" at once). When
another process holds that lock (`serve --workers 2`), the inline connection does not let
SQLite's busy handler sleep on the event loop (its busy timeout is 0): it tries BEGIN IMMEDIATE
and tries again after an asyncio sleep, for up to the busy timeout, then fails as SQLite would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from typing import Any

import aiosqlite
from tortoise.backends.base.client import TransactionContext
from tortoise.backends.sqlite.client import SqliteClient, translate_exceptions

from stepwise.models.db.sqlite_inline import InlineConnection, LoopBudgetExceeded
from stepwise.models.db.sqlite_transaction import WriteTransaction

__all__ = ["BULK", "CHECKPOINT", "SCAN", "InlineSqliteClient", "LoopBudgetExceeded", "shares_file"]

BULK, SCAN, CHECKPOINT = "bulk", "scan", "checkpoint"  # the threaded connections, by what they serve
CHECKPOINT_AFTER_PAGES = 1000  # SQLite's own default for wal_autocheckpoint
THREAD_EXIT_SECONDS = 1.0
logger = logging.getLogger(__name__)


def shares_file(path: str) -> bool:
    """A second connection sees the same database only for a file (not `:memory:` or a URI)."""
    return path not in (":memory:", "") and not path.startswith("file:")


class InlineSqliteClient(SqliteClient):
    """The "default" connection: sqlite3 on the event loop, plus aiosqlite connections to the
    same file on their own threads, opened on first use, for the work that must not stall the
    loop: one for bulk write transactions, one for scans (so a scan does not wait for a launch),
    one for WAL checkpoints."""

    def __init__(self, file_path: str, loop_budget_ms: float = 0, **kwargs: Any) -> None:
        super().__init__(file_path, **kwargs)
        self.loop_budget_ms = float(loop_budget_ms)
        self.busy_timeout_ms = int(self.pragmas.get("busy_timeout", 0))
        self.write_lock = asyncio.Lock()
        self._threaded: dict[str, asyncio.Future] = {}
        self._threaded_locks = {BULK: asyncio.Lock(), SCAN: asyncio.Lock(), CHECKPOINT: asyncio.Lock()}
        self._checkpoint: asyncio.Task | None = None
        self._page_bytes = 0

    async def create_connection(self, with_db: bool) -> None:
        if not self._connection:
            connection = InlineConnection(self.filename, self.loop_budget_ms)
            for pragma, value in self.pragmas.items():
                connection._conn.execute(f"PRAGMA {pragma}={value}")
            # SQLite's busy handler would sleep on the event loop: a write transaction waits for
            # another process asynchronously instead (WriteTransaction), and a write outside a
            # transaction, which this project does not make, fails at once.
            connection._conn.execute("PRAGMA busy_timeout = 0")
            # Checkpoints do I/O: a thread runs them (checkpoint_if_due), never the loop.
            connection._conn.execute("PRAGMA wal_autocheckpoint = 0")
            self._connection = connection
            await self._post_connect()

    def checkpoint_if_due(self) -> None:
        """After a commit: when the WAL has grown past CHECKPOINT_AFTER_PAGES, a PASSIVE
        checkpoint on the checkpoint connection's thread (one at a time; nobody waits for it).
        The WAL file's size says how far it has grown: a complete checkpoint lets the next writer
        start it over, truncated to journal_size_limit."""
        if not shares_file(self.filename) or (self._checkpoint and not self._checkpoint.done()):
            return
        try:
            wal_bytes = os.stat(f"{self.filename}-wal").st_size
        except FileNotFoundError:
            return
        if wal_bytes > CHECKPOINT_AFTER_PAGES * self._page_size():
            self._checkpoint = asyncio.ensure_future(self._run_checkpoint())

    def _page_size(self) -> int:
        if not self._page_bytes:
            self._page_bytes = self._connection._conn.execute("PRAGMA page_size").fetchone()[0]
        return self._page_bytes

    async def _run_checkpoint(self) -> None:
        try:
            connection, lock = await self.threaded_connection(CHECKPOINT)
            # Under the write lock: no commit of this process lands meanwhile, so the checkpoint
            # copies every frame and the next writer starts the log over (writers wait a few ms,
            # off the loop; SQLite's automatic checkpoint would hold the loop instead).
            async with self.write_lock, lock:
                await (await connection.execute("PRAGMA wal_checkpoint(PASSIVE)")).close()
        except Exception:  # the next commit tries again; say why this one did not run
            logger.exception("WAL checkpoint failed")

    async def close(self) -> None:
        if self._checkpoint:
            with contextlib.suppress(Exception):
                await self._checkpoint
        opened, self._threaded = list(self._threaded.values()), {}
        for opening in opened:
            with contextlib.suppress(Exception):
                connection = await opening
                await connection.close()
                # close() returns once the thread has answered, a moment before it ends: wait for
                # that moment, so that no thread outlives the client (a process could not exit).
                connection._thread.join(THREAD_EXIT_SECONDS)
        await super().close()

    def _in_transaction(self) -> TransactionContext:
        return WriteTransaction(self, offloaded=False)

    def offloaded_transaction(self) -> WriteTransaction:
        """A write transaction on the bulk connection's thread."""
        return WriteTransaction(self, offloaded=True)

    async def inline_connection(self) -> tuple[InlineConnection, asyncio.Lock]:
        """The inline connection and the lock its statements take (Tortoise's)."""
        if not self._connection:
            await self.create_connection(with_db=True)
        return self._connection, self._lock

    async def threaded_connection(self, purpose: str) -> tuple[aiosqlite.Connection | InlineConnection, asyncio.Lock]:
        """The `purpose` (BULK, SCAN, CHECKPOINT) connection and the lock its statements take; for an
        in-memory database, which a second connection cannot see, the inline one. Opened once,
        by a task of its own: callers arriving at the same time, or cancelled, share it."""
        if not shares_file(self.filename):
            return await self.inline_connection()
        opening = self._threaded.get(purpose)
        if opening is None or (opening.done() and (opening.cancelled() or opening.exception())):
            opening = self._threaded[purpose] = asyncio.ensure_future(self._open_threaded())
        return await asyncio.shield(opening), self._threaded_locks[purpose]

    async def _open_threaded(self) -> aiosqlite.Connection:
        connection = await aiosqlite.connect(self.filename, isolation_level=None)
        try:
            connection._conn.row_factory = sqlite3.Row  # as Tortoise sets it
            for pragma, value in self.pragmas.items():
                await (await connection.execute(f"PRAGMA {pragma}={value}")).close()
            # After a commit, checkpoint_if_due runs the checkpoint on its own connection; a bulk
            # commit can come before the inline connection opens: the page size from here too.
            await (await connection.execute("PRAGMA wal_autocheckpoint = 0")).close()
            async with connection.execute("PRAGMA page_size") as cursor:
                self._page_bytes = (await cursor.fetchone())[0]
        except BaseException:
            await connection.close()
            raise
        return connection

    @translate_exceptions
    async def offloaded_fetch(self, query: str, values: list) -> list:
        """A read on the scan connection's thread, outside any transaction."""
        connection, lock = await self.threaded_connection(SCAN)
        async with lock:
            self.log.debug("%s: %s", query, values)
            return await connection.execute_fetchall(query, values)


client_class = InlineSqliteClient
