"""sql.concurrent_reads: a page's independent reads run at once on PostgreSQL (outside a
transaction), in order elsewhere; when one fails, the others are stopped and the caller gets its
error. Each read here runs a real statement; overlap is shown by a read that can only finish once
the other has run its statement, not by timing."""

from __future__ import annotations

import asyncio

import pytest
from tests.integration.test_sqlite_engine import database

from stepwise.models.db import sql

# The reads run plain statements: an empty database of each backend is enough (no migrations).


def _postgres(url: str) -> bool:
    return url.startswith("postgres")


async def test_reads_overlap_on_postgresql_and_keep_their_order_elsewhere(database_url):
    async with database(database_url):
        second_ran = asyncio.Event()
        order: list[str] = []

        async def first() -> None:
            await sql.fetch("SELECT 1")
            # On PostgreSQL the second read is running meanwhile; in order, it has not started.
            if _postgres(database_url):
                await asyncio.wait_for(second_ran.wait(), 10)
            order.append("first")

        async def second() -> None:
            await sql.fetch("SELECT 2")
            second_ran.set()
            order.append("second")

        await sql.concurrent_reads([first, second])
        assert order == (["second", "first"] if _postgres(database_url) else ["first", "second"])


async def test_a_failing_read_stops_the_others_and_its_error_reaches_the_caller(database_url):
    async with database(database_url):
        never = asyncio.Event()
        stopped: list[str] = []

        async def failing() -> None:
            await sql.fetch("SELECT 1")
            await asyncio.sleep(0)  # the other read is under way (PostgreSQL)
            raise LookupError("this read failed")

        async def waiting() -> None:
            try:
                await sql.fetch("SELECT 2")
                await never.wait()
            except asyncio.CancelledError:
                stopped.append("waiting")
                raise

        reads = [failing, waiting]
        with pytest.raises(LookupError, match="this read failed"):
            await asyncio.wait_for(sql.concurrent_reads(reads), 30)
        # PostgreSQL: the waiting read was cancelled, not left running; in order, it never began.
        assert stopped == (["waiting"] if _postgres(database_url) else [])
        assert (await sql.fetch("SELECT 3"))[0][0] == 3  # the pool is whole
