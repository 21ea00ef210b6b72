"""Tortoise's SQLite engine for this server: short statements run inline, long ones on a thread.

aiosqlite runs every statement on the connection's own thread: a trip there and back through the
event loop. With several requests in flight those trips (thread wake-ups, GIL hand-overs) cost
more than the statements themselves: 8 clients submitting got ~290 submits/s with ten trips per
submit, ~570/s with none (docs/benchmarks.md). So the default connection runs sqlite3 directly
on the event loop: an indexed read, a page or a one-task transaction takes microseconds.

Work whose cost grows with the data (a launch of 100,000 tasks, bulk inserts, counts over a
campaign) would stall every request while it runs: it goes to aiosqlite connections on their own
threads (`offloaded_transaction`, `offloaded_fetch`; models/db/sql.py says which work).

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
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

import aiosqlite
from tortoise.backends.base.client import TransactionalDBClient, TransactionContext
from tortoise.backends.sqlite.client import SqliteClient, SqliteTransactionWrapper, translate_exceptions
from tortoise.connection import get_connections
from tortoise.exceptions import IntegrityError, OperationalError, TransactionManagementError

FIRST_RETRY_SECONDS = 0.001
LONGEST_RETRY_SECONDS = 0.05
BULK, SCAN = "bulk", "scan"  # the threaded connections, by what they serve


def shares_file(path: str) -> bool:
    """A second connection sees the same database only for a file (not `:memory:` or a URI)."""
    return path not in (":memory:", "") and not path.startswith("file:")


class InlineCursor:
    """What Tortoise reads of an aiosqlite cursor, over a sqlite3 one."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor
        self.rowcount = cursor.rowcount
        self.lastrowid = cursor.lastrowid

    async def fetchall(self) -> list:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class InlineConnection:
    """aiosqlite.Connection's interface (the part Tortoise and models/db/sql.py use), run on the
    calling thread: awaiting a method returns without ever suspending."""

    def __init__(self, path: str) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None)
        self._conn.row_factory = sqlite3.Row

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        return InlineCursor(self._conn.execute(sql, parameters or ()))

    async def execute_fetchall(self, sql: str, parameters: Sequence[Any] | None = None) -> list:
        return self._conn.execute(sql, parameters or ()).fetchall()

    async def execute_insert(self, sql: str, parameters: Sequence[Any] | None = None) -> tuple[int]:
        return (self._conn.execute(sql, parameters or ()).lastrowid,)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._conn.executemany(sql, rows)

    async def executescript(self, script: str) -> None:
        self._conn.executescript(script)

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self._conn.close()

    async def _execute(self, function: Callable, *args: Any) -> Any:
        # aiosqlite's way to run a function on its thread; here the thread is the caller's.
        return function(*args)

    @property
    def total_changes(self) -> int:
        return self._conn.total_changes

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction


class ImmediateTransactionWrapper(SqliteTransactionWrapper):
    """A write transaction's connection, as code inside `in_transaction()` sees it."""

    async def begin(self) -> None:
        """BEGIN IMMEDIATE, waiting for another process's write lock with SQLite's busy handler
        (on aiosqlite's thread: the event loop goes on meanwhile)."""
        try:
            # The connection is in autocommit mode (isolation_level=None): no transaction is open
            # unless a failure left one behind; roll that back, never commit what nobody did.
            if self._connection.in_transaction:
                await self._connection.rollback()
            await self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise TransactionManagementError(exc) from exc

    def try_begin(self) -> bool:
        """Inline connection only: BEGIN IMMEDIATE if the write lock is free right now; False when
        another process holds it (the inline connection's busy timeout is 0)."""
        conn = self._connection._conn
        if conn.in_transaction:
            conn.rollback()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:  # extended codes keep it in the low byte
                raise TransactionManagementError(exc) from exc
            return False
        return True


def _translated(exc: sqlite3.Error) -> Exception:
    """Tortoise's exception for a driver error, as its client methods raise them."""
    if isinstance(exc, sqlite3.IntegrityError):
        return IntegrityError(exc)
    return OperationalError(exc)


class WriteTransaction(TransactionContext):
    """One write transaction: the process's write lock, then the connection's statement lock (so
    no other statement slips into it), BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on an exception.
    Code inside sees it as the "default" connection, whichever connection it runs on. Whatever
    fails or is cancelled on the way, the transaction is rolled back before the locks are let go."""

    def __init__(self, client: InlineSqliteClient, offloaded: bool) -> None:
        self.client = client
        self.offloaded = offloaded
        self.connection = ImmediateTransactionWrapper(client)
        self.connection_name = client.connection_name

    async def __aenter__(self) -> TransactionalDBClient:
        opening = self.client.threaded_connection(BULK) if self.offloaded else self.client.inline_connection()
        self.connection._connection, self.statement_lock = await opening
        await self.client.write_lock.acquire()
        try:
            if isinstance(self.connection._connection, InlineConnection):
                await self._begin_inline()
            else:
                await self._begin_threaded()
        except BaseException:
            self.client.write_lock.release()
            raise
        self.token = get_connections().set(self.connection_name, self.connection)
        return self.connection

    async def _begin_inline(self) -> None:
        """Holds the statement lock only while the transaction is open, not while waiting for
        another process: reads outside transactions go on meanwhile."""
        deadline = time.monotonic() + self.client.busy_timeout_ms / 1000
        delay = FIRST_RETRY_SECONDS
        while True:
            await self.statement_lock.acquire()
            try:
                if self.connection.try_begin():
                    return
            except BaseException:
                self.statement_lock.release()
                raise
            self.statement_lock.release()
            if time.monotonic() >= deadline:
                raise TransactionManagementError(
                    f"database is locked (another process held the write lock for {self.client.busy_timeout_ms} ms)")
            await asyncio.sleep(delay)
            delay = min(delay * 2, LONGEST_RETRY_SECONDS)

    async def _begin_threaded(self) -> None:
        await self.statement_lock.acquire()
        try:
            await self.connection.begin()
        except BaseException:
            # A cancelled BEGIN still runs on the connection's thread; the rollback runs after it.
            await self._discard()
            self.statement_lock.release()
            raise

    async def _discard(self) -> None:
        """Roll back whatever is open; the error that brought us here is the one to report."""
        with contextlib.suppress(Exception):
            await asyncio.shield(self.connection._connection.rollback())

    async def __aexit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        try:
            if not self.connection._finalized:
                if exc_type:
                    await self.connection.rollback()
                else:
                    await self.connection.commit()
        except sqlite3.Error as exc:
            await self._discard()  # a failed COMMIT leaves the transaction open
            raise _translated(exc) from exc
        except BaseException:
            await self._discard()
            raise
        finally:
            get_connections().reset(self.token)
            self.statement_lock.release()
            self.client.write_lock.release()


class InlineSqliteClient(SqliteClient):
    """The "default" connection: sqlite3 on the event loop, plus aiosqlite connections to the
    same file on their own threads, opened on first use, for the work that must not stall the
    loop: one for bulk write transactions, one for scans (so a scan does not wait for a launch)."""

    def __init__(self, file_path: str, **kwargs: Any) -> None:
        super().__init__(file_path, **kwargs)
        self.busy_timeout_ms = int(self.pragmas.get("busy_timeout", 0))
        self.write_lock = asyncio.Lock()
        self._threaded: dict[str, asyncio.Future] = {}
        self._threaded_locks = {BULK: asyncio.Lock(), SCAN: asyncio.Lock()}

    async def create_connection(self, with_db: bool) -> None:
        if not self._connection:
            self._connection = InlineConnection(self.filename)
            for pragma, value in self.pragmas.items():
                self._connection._conn.execute(f"PRAGMA {pragma}={value}")
            # SQLite's busy handler would sleep on the event loop: a write transaction waits for
            # another process asynchronously instead (WriteTransaction), and a write outside a
            # transaction, which this project does not make, fails at once.
            self._connection._conn.execute("PRAGMA busy_timeout = 0")
            await self._post_connect()

    async def close(self) -> None:
        opened, self._threaded = list(self._threaded.values()), {}
        for opening in opened:
            with contextlib.suppress(Exception):
                await (await opening).close()
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
        """The `purpose` (BULK, SCAN) connection and the lock its statements take; for an
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
