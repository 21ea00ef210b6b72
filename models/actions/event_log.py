"""Appending to a campaign's event log (campaign_event), in the transaction of the change.

Order is commit order. SQLite has one writer at a time, so the next seq is MAX(seq) + 1 read
in the statement that inserts. On PostgreSQL concurrent transactions could both read the same
MAX, and serial ids commit out of order, so the seq comes from the campaign's row of
`campaign_event_seq`, taken with an upsert ... RETURNING: the row lock it takes is held until
commit, so a later seq cannot commit before an earlier one. Callers append last in their
transaction: whoever holds that lock then waits for no other lock (no deadlock cycle through it),
and holds it for as short a time as possible. A transition whose writes are independent of each
other sends the append in their merged statement (log_append_then): it reads their row counts,
so PostgreSQL runs it once they are all done, and the lock is still taken last.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from stepwise.models.db import sql
from stepwise.models.events import IssueChanged, TaskChanged

LOG_COLUMNS = ("kind", "task_id", "issue_id", "asset_id", "actor_id", "assignee_id", "previous_assignee_id", "at")
# PostgreSQL types the VALUES list from its first row: a NULL there would read as text.
PG_TYPES = ("INTEGER", "VARCHAR(20)", "INTEGER", "INTEGER", "INTEGER", "INTEGER", "INTEGER", "INTEGER", "TIMESTAMPTZ")


def _log_values(event: TaskChanged | IssueChanged) -> tuple:
    if isinstance(event, TaskChanged):
        return (event.kind.value, event.task_id, None, None, event.actor_id, event.assignee_id,
                event.previous_assignee_id, event.at)
    return (event.kind, None, event.issue_id, event.asset_id, event.actor_id, None, None, event.at)


def log_append(postgres: bool, campaign_id: int, events: Sequence[TaskChanged | IssueChanged]) -> tuple[str, list]:
    """One statement appending `events` (in order) to the campaign's log; it RETURNs their seqs."""
    if not postgres:
        return _sqlite_append(campaign_id, events)
    then = log_append_then(campaign_id, events, after="")
    return f"WITH {then.ctes} {then.statement}", then.params


def log_append_then(campaign_id: int, events: Sequence[TaskChanged | IssueChanged], after: str = "done") -> sql.Then:
    """PostgreSQL: the append as the last write of a merged statement (sql.merge_writes): the seq's
    upsert selects FROM `after`, so it runs, and takes the seq's row lock, only once the merged
    writes are done (their row locks taken): the lock order stays that of an append of its own."""
    count = _check(events)
    source = f"SELECT CAST(? AS INTEGER), CAST(? AS INTEGER) FROM {after}" if after else "VALUES (?, ?)"
    base = (f"base AS (INSERT INTO campaign_event_seq (campaign_id, last_seq) {source}"
            " ON CONFLICT (campaign_id) DO UPDATE SET last_seq = campaign_event_seq.last_seq + excluded.last_seq"
            " RETURNING last_seq - ? AS s)")
    marks = "(" + ", ".join(f"CAST(? AS {t})" for t in PG_TYPES) + ")"
    values, rows, insert = _appended(campaign_id, events, marks)
    return sql.Then(f"{base}, {rows}", insert, [campaign_id, count, count, *values])


def _sqlite_append(campaign_id: int, events: Sequence) -> tuple[str, list]:
    _check(events)
    base = "base AS (SELECT COALESCE(MAX(seq), 0) AS s FROM campaign_event WHERE campaign_id = ?)"
    values, rows, insert = _appended(campaign_id, events, "(" + ", ".join("?" * len(PG_TYPES)) + ")")
    return f"WITH {base}, {rows} {insert}", [campaign_id, *values]


def _check(events: Sequence) -> int:
    if not events:
        raise ValueError("log_append() needs at least one event")
    return len(events)


def _appended(campaign_id: int, events: Sequence, marks: str) -> tuple[list, str, str]:
    """The parameters, the events' VALUES list (the CTE `e`) and the INSERT of the log rows from
    `base` and `e`."""
    params: list = []
    for k, event in enumerate(events, 1):
        params += [k, *_log_values(event)]
    params.append(campaign_id)
    columns = ", ".join(LOG_COLUMNS)
    picked = ", ".join(f"e.{c}" for c in LOG_COLUMNS)
    return (params, f"e(k, {columns}) AS (VALUES {', '.join([marks] * len(events))})",
            f"INSERT INTO campaign_event (campaign_id, seq, {columns}) SELECT ?, base.s + e.k, {picked}"
            " FROM base, e ORDER BY e.k RETURNING seq")


def with_seqs(events: Sequence, returned_rows: Sequence) -> list:
    """The events with the seqs their log_append statement returned (in the events' order)."""
    first = min(row[0] for row in returned_rows)
    return [dataclasses.replace(event, seq=first + k) for k, event in enumerate(events)]


async def append_events(campaign_id: int, events: Sequence[TaskChanged | IssueChanged]) -> list:
    """Append to the log in the caller's transaction; the events with their seqs."""
    if not events:
        return []
    conn = sql.current_connection()
    rows = await sql.fetch(*log_append(sql.is_postgres(conn), campaign_id, events))
    return with_seqs(events, rows)


# CREATED for each selected task in id order; with DONE_TOO, then DONE for those already DONE.
PER_TASK_INSERT = "INSERT INTO campaign_event (campaign_id, seq, kind, task_id, asset_id, actor_id, assignee_id, at)"
CREATED_PER_TASK = (
    PER_TASK_INSERT + " SELECT campaign_id, ? + ROW_NUMBER() OVER (ORDER BY id), 'CREATED', id, asset_id, ?,"
    " assignee_id, ? FROM task WHERE {where}"
)
CREATED_THEN_DONE = (
    PER_TASK_INSERT + " SELECT campaign_id, ? + ROW_NUMBER() OVER (ORDER BY phase, id), kind, id, asset_id, ?,"
    " assignee_id, ? FROM (SELECT 0 AS phase, 'CREATED' AS kind, id, asset_id, assignee_id, campaign_id FROM task"
    " WHERE {where} UNION ALL SELECT 1, 'DONE', id, asset_id, assignee_id, campaign_id FROM task"
    " WHERE {where} AND status = 'DONE') AS created"
)


async def append_per_task(campaign_id: int, where: str, params: Sequence, actor_id: int | None, at,
                          done_too: bool) -> tuple[int, int] | None:
    """Set-based, for a launch or new assets (the caller holds the campaign's row lock): CREATED
    for every task matching `where` in id order, then DONE for those of them already DONE. The
    range of seqs written, or None if no task matched. Last in the caller's transaction, like
    append_events (it takes the same lock)."""
    postgres = sql.is_postgres(sql.current_connection())
    if postgres:
        await sql.execute("INSERT INTO campaign_event_seq (campaign_id, last_seq) VALUES (?, 0)"
                          " ON CONFLICT (campaign_id) DO NOTHING", [campaign_id])
        base = (await sql.fetch("SELECT last_seq FROM campaign_event_seq WHERE campaign_id = ? FOR UPDATE",
                                [campaign_id]))[0][0]
    else:
        base = (await sql.fetch("SELECT COALESCE(MAX(seq), 0) FROM campaign_event WHERE campaign_id = ?",
                                [campaign_id]))[0][0]
    if done_too:
        statement, values = CREATED_THEN_DONE.format(where=where), [base, actor_id, at, *params, *params]
    else:
        statement, values = CREATED_PER_TASK.format(where=where), [base, actor_id, at, *params]
    await sql.execute(statement, values)
    if postgres:
        last = (await sql.fetch("WITH moved AS (UPDATE campaign_event_seq SET last_seq = (SELECT COALESCE(MAX(seq), 0)"
                                " FROM campaign_event WHERE campaign_id = ?) WHERE campaign_id = ? RETURNING last_seq)"
                                " SELECT last_seq FROM moved", [campaign_id, campaign_id]))[0][0]
    else:
        last = (await sql.fetch("SELECT COALESCE(MAX(seq), 0) FROM campaign_event WHERE campaign_id = ?", [campaign_id]))[0][0]
    return (base + 1, last) if last > base else None
