"""What a PostgreSQL database's server processes do during a benchmark phase: their CPU time and
what its backends wait for.

`watching(url)` samples pg_stat_activity of that database every `interval` seconds on a
connection of its own (not counted), and reads the CPU time (/proc/PID/stat, utime + stime) of
every backend connected to it at the start and at the end: a backend gone before the end is
missed (Stepwise's pools keep theirs), one opened meanwhile counts whole. PostgreSQL's shared
processes (WAL writer, checkpointer) are not counted: other databases of the server use them too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from common import process_usage

ACTIVITY = ("SELECT pid, state, wait_event_type, wait_event, left(query, 48) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'")


@dataclass
class Activity:
    cpu_seconds: float = 0.0
    samples: int = 0
    # (state, wait event, statement start) -> backends in that state, summed over the samples
    states: Counter = field(default_factory=Counter)

    def top(self, n: int = 6) -> list[tuple[float, str]]:
        """The commonest states as (backends on average per sample, description)."""
        return [(count / max(self.samples, 1), " / ".join(str(p) for p in key if p))
                for key, count in self.states.most_common(n)]


def _cpu(pids: set[int]) -> dict[int, float]:
    usage = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            usage[pid] = process_usage(pid).cpu
    return usage


@contextlib.asynccontextmanager
async def watching(url: str, interval: float = 0.05) -> AsyncIterator[Activity]:
    import asyncpg

    activity = Activity()
    connection = await asyncpg.connect(url)
    try:
        seen: set[int] = {row[0] for row in await connection.fetch(ACTIVITY)}
        before = _cpu(seen)
        stop = asyncio.Event()

        async def sample() -> None:
            while not stop.is_set():
                rows = await connection.fetch(ACTIVITY)
                activity.samples += 1
                for pid, state, kind, event, query in rows:
                    seen.add(pid)
                    if state != "idle":
                        activity.states[(state, f"{kind}:{event}" if kind else "", " ".join(query.split()))] += 1
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval)

        sampler = asyncio.create_task(sample())
        try:
            yield activity
        finally:
            stop.set()
            await sampler
            after = _cpu(seen)
            activity.cpu_seconds = sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())
    finally:
        await connection.close()
