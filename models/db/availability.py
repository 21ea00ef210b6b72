"""Whether an exception means the database cannot be reached (down, restarting, connection lost)
or its disk is full, as opposed to a bug: such failures are answered with DATABASE_UNAVAILABLE or
DATABASE_FULL (HTTP 503 when nothing was answered yet), not masked as an unexpected error, and
the next request simply tries again (the drivers reconnect: nothing else needs a restart)."""

from __future__ import annotations

import sqlite3

import asyncpg
from tortoise.exceptions import DBConnectionError

_UNAVAILABLE = (
    OSError,  # refused, reset, unreachable
    asyncpg.exceptions.PostgresConnectionError,  # connection failure or lost
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up, crash recovery (57P*)
    asyncpg.exceptions.InterfaceError,  # "connection is closed" under a pool
    DBConnectionError,
)


def _causes(error: BaseException | None):
    seen = set()
    while error is not None and id(error) not in seen:
        yield error
        seen.add(id(error))
        error = error.__cause__ or error.__context__


def database_unavailable(error: BaseException | None) -> bool:
    """True when `error` or one of its causes is a lost or refused database connection."""
    return any(isinstance(cause, _UNAVAILABLE) for cause in _causes(error))


def database_full(error: BaseException | None) -> bool:
    """True when the database's disk is full (SQLITE_FULL, PostgreSQL's 53100): the transaction
    was rolled back, and the same write succeeds once space is freed."""
    return any((isinstance(cause, sqlite3.OperationalError) and getattr(cause, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL)
               or isinstance(cause, asyncpg.exceptions.DiskFullError) for cause in _causes(error))
