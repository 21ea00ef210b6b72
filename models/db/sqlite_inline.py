"""The inline connection: sqlite3 run on the event loop's thread, behind aiosqlite's interface.

Only statements whose cost does not grow with the data may run here (docs/development.md,
"Database access"). With a loop budget (STEPWISE_SQLITE_LOOP_BUDGET_MS, on in the test suite),
a statement that spends longer than it on the loop's thread fails with `LoopBudgetExceeded`,
naming itself: SQLite's progress handler interrupts it, or the check after it returns (a single
step, such as a sort, can run long between two calls of the handler). The budget counts the
thread's CPU time (`time.thread_time`), not the wall clock: a loaded machine that pauses the
process does not make a cheap statement fail. The error tells that time apart (user, system,
page faults, preemptions: `getrusage` of the thread), to say whether the statement computed or
the kernel worked for it.
"""

from __future__ import annotations

import resource
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
PROGRESS_STEPS = 1000  # SQLite virtual-machine steps between two looks at the clock
MESSAGE_CHARS = 2000  # of the statement, in the error


class LoopBudgetExceeded(RuntimeError):
    """A statement ran on the event loop for longer than the budget: it belongs on a thread
    (sql.bulk_transaction(), sql.fetch_scan()) or needs an index."""


class InlineCursor:
    """What Tortoise reads of an aiosqlite cursor, over a sqlite3 one."""

    def __init__(self, cursor: sqlite3.Cursor, connection: InlineConnection, statement: str, started: float) -> None:
        self._cursor = cursor
        self._connection = connection
        self._statement = statement
        self._started = started
        self.rowcount = cursor.rowcount
        self.lastrowid = cursor.lastrowid

    async def fetchall(self) -> list:
        # The rest of the statement's steps: counted against the budget it started with.
        return self._connection._within_budget(self._statement, self._cursor.fetchall, self._started)

    async def close(self) -> None:
        self._cursor.close()


class InlineConnection:
    """aiosqlite.Connection's interface (the part Tortoise and models/db/sql.py use), run on the
    calling thread: awaiting a method returns without ever suspending."""

    def __init__(self, path: str, loop_budget_ms: float = 0) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._budget_seconds = loop_budget_ms / 1000
        self._started, self._deadline = 0.0, float("inf")
        self._usage = resource.getrusage(resource.RUSAGE_THREAD)
        if self._budget_seconds:
            self._conn.set_progress_handler(self._past_deadline, PROGRESS_STEPS)

    def _past_deadline(self) -> bool:
        """SQLite's progress handler: a true answer interrupts the running statement."""
        return time.thread_time() > self._deadline

    def _within_budget(self, statement: str, run: Callable[[], T], started: float | None = None) -> T:
        """`run()`, failing with LoopBudgetExceeded when it spends more than the budget since
        `started` (by default: now)."""
        if not self._budget_seconds:
            return run()
        if started is None:
            self._usage = resource.getrusage(resource.RUSAGE_THREAD)
        self._started = time.thread_time() if started is None else started
        self._deadline = self._started + self._budget_seconds
        try:
            try:
                result = run()
            except sqlite3.OperationalError as exc:
                if self._past_deadline():  # SQLite's "interrupted": the progress handler's doing
                    raise self._overrun(statement) from exc
                raise
            if self._past_deadline():
                raise self._overrun(statement)
            return result
        finally:
            self._deadline = float("inf")  # what runs outside this method is never interrupted

    def _overrun(self, statement: str) -> LoopBudgetExceeded:
        spent_ms = (time.thread_time() - self._started) * 1000
        return LoopBudgetExceeded(
            f"SQLite statement spent {spent_ms:.0f} ms on the event loop ({self._spent()}), over the budget of "
            f"{self._budget_seconds * 1000:g} ms (STEPWISE_SQLITE_LOOP_BUDGET_MS); run it on a thread "
            f"(sql.bulk_transaction, sql.fetch_scan) or make it cheaper: {statement[:MESSAGE_CHARS]}")

    def _spent(self) -> str:
        """What kind of time it was: computing (user), the kernel's (system: I/O, page faults)."""
        now = resource.getrusage(resource.RUSAGE_THREAD)
        before = self._usage
        return (f"user {(now.ru_utime - before.ru_utime) * 1000:.0f} ms, system {(now.ru_stime - before.ru_stime) * 1000:.0f} ms,"
                f" {now.ru_minflt - before.ru_minflt} page faults, {now.ru_nivcsw - before.ru_nivcsw} preemptions")

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        cursor = self._within_budget(sql, lambda: self._conn.execute(sql, parameters or ()))
        return InlineCursor(cursor, self, sql, self._started)

    async def execute_fetchall(self, sql: str, parameters: Sequence[Any] | None = None) -> list:
        return self._within_budget(sql, lambda: self._conn.execute(sql, parameters or ()).fetchall())

    async def execute_insert(self, sql: str, parameters: Sequence[Any] | None = None) -> tuple[int]:
        return (self._within_budget(sql, lambda: self._conn.execute(sql, parameters or ()).lastrowid),)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._within_budget(f"{sql} (x{len(rows)})", lambda: self._conn.executemany(sql, rows))

    async def executescript(self, script: str) -> None:
        self._within_budget(script, lambda: self._conn.executescript(script))

    async def commit(self) -> None:
        self._within_budget("COMMIT", self._conn.commit)

    async def rollback(self) -> None:
        self._conn.rollback()  # never refused: it is how a failure is cleaned up

    async def close(self) -> None:
        self._conn.close()

    async def _execute(self, function: Callable, *args: Any) -> Any:
        # aiosqlite's way to run a function on its thread; here the thread is the caller's.
        label = f"{getattr(function, '__name__', 'function')}{args[1:]!r}"  # args[0] is the sqlite3 connection
        return self._within_budget(label, lambda: function(*args))

    @property
    def total_changes(self) -> int:
        return self._conn.total_changes

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction
