"""Whether an exception means the database cannot be reached (down, restarting, connection lost),
as opposed to a bug: such failures are answered with DATABASE_UNAVAILABLE (HTTP 503 when nothing
was answered yet), not masked as an unexpected error, and the next request simply tries again
(the drivers reconnect: nothing else needs a restart)."""

from __future__ import annotations

import asyncpg
from tortoise.exceptions import DBConnectionError

_UNAVAILABLE = (
    OSError,  # refused, reset, unreachable
    asyncpg.exceptions.PostgresConnectionError,  # connection failure or lost
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up, crash recovery (57P*)
    asyncpg.exceptions.InterfaceError,  # "connection is closed" under a pool
    DBConnectionError,
)


def database_unavailable(error: BaseException | None) -> bool:
    """True when `error` or one of its causes is a lost or refused database connection."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, _UNAVAILABLE):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False
