"""Write transactions of the SQLite engine: BEGIN IMMEDIATE ... COMMIT, on the inline connection
or on the bulk connection's thread, under the process's write lock (models/db/sqlite_engine.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from typing import TYPE_CHECKING, Any

from tortoise.backends.base.client import TransactionalDBClient, TransactionContext
from tortoise.backends.sqlite.client import SqliteTransactionWrapper
from tortoise.connection import get_connections
from tortoise.exceptions import IntegrityError, OperationalError, TransactionManagementError

from stepwise.models.db.sqlite_inline import InlineConnection

if TYPE_CHECKING:
    from stepwise.models.db.sqlite_engine import InlineSqliteClient

FIRST_RETRY_SECONDS = 0.001
LONGEST_RETRY_SECONDS = 0.05
logger = logging.getLogger(__name__)


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
    fails or is cancelled on the way, the transaction is rolled back before the locks are let go;
    a COMMIT that went through is reported as done, even when the caller was cancelled meanwhile."""

    def __init__(self, client: InlineSqliteClient, offloaded: bool) -> None:
        self.client = client
        self.offloaded = offloaded
        self.connection = ImmediateTransactionWrapper(client)
        self.connection_name = client.connection_name

    async def __aenter__(self) -> TransactionalDBClient:
        opening = self.client.threaded_connection("bulk") if self.offloaded else self.client.inline_connection()
        self.connection._connection, self.statement_lock = await opening
        await self.client.write_lock.acquire()
        try:
            if self._inline:
                await self._begin_inline()
            else:
                await self._begin_threaded()
        except BaseException:
            self.client.write_lock.release()
            raise
        self.token = get_connections().set(self.connection_name, self.connection)
        return self.connection

    @property
    def _inline(self) -> bool:
        return isinstance(self.connection._connection, InlineConnection)

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
            await self._finish(failed=exc_type is not None)
        finally:
            try:
                get_connections().reset(self.token)
            finally:
                try:
                    self.statement_lock.release()
                finally:
                    self.client.write_lock.release()
        if exc_type is None:
            self.client.checkpoint_if_due()

    async def _finish(self, failed: bool) -> None:
        """COMMIT, or ROLLBACK when the block failed; a failed COMMIT is rolled back."""
        if self.connection._finalized:
            return
        try:
            if failed:
                await self.connection.rollback()
            elif self._inline:
                await self.connection.commit()
            else:
                await self._commit_on_thread()
        except sqlite3.Error as exc:
            await self._discard()  # a failed COMMIT leaves the transaction open
            raise _translated(exc) from exc
        except BaseException:
            await self._discard()
            raise

    async def _commit_on_thread(self) -> None:
        """A COMMIT sent to the thread runs there even if the caller is cancelled meanwhile: wait
        for it, and when it went through, report success (the caller then publishes the events of
        the committed work) and drop the cancellation, which came too late to undo anything."""
        commit = asyncio.ensure_future(self.connection.commit())
        cancelled = False
        while not commit.done():
            try:
                await asyncio.shield(commit)
            except asyncio.CancelledError:
                cancelled = True
        if cancelled:
            if commit.exception() is not None:
                raise asyncio.CancelledError()  # nothing committed: the cancellation stands
            asyncio.current_task().uncancel()
            logger.info("a write transaction committed although its caller was cancelled during COMMIT")
        commit.result()
