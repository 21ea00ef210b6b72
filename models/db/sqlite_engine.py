"""Tortoise's SQLite engine, with write transactions opened as BEGIN IMMEDIATE.

A deferred BEGIN that reads first and writes later cannot wait for another process's write lock
("database is locked" at once, whatever the busy timeout); IMMEDIATE takes the lock up front,
so the busy timeout applies and several server processes can share one SQLite file.
"""

import sqlite3

from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteTransactionContext,
    SqliteTransactionWrapper,
)
from tortoise.exceptions import TransactionManagementError


class ImmediateTransactionWrapper(SqliteTransactionWrapper):
    async def begin(self) -> None:
        try:
            # The connection is in autocommit mode (isolation_level=None): no implicit transaction
            # is open unless something left one behind; only then close it (a thread hop saved).
            if self._connection.in_transaction:
                await self._connection.commit()
            await self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise TransactionManagementError(exc) from exc


class ImmediateSqliteClient(SqliteClient):
    def _in_transaction(self) -> SqliteTransactionContext:
        return SqliteTransactionContext(ImmediateTransactionWrapper(self), self._lock)


client_class = ImmediateSqliteClient
