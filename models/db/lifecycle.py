"""Opening the database and applying the checked-in migrations."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate

from stepwise.models.db import tortoise_config


async def apply_migrations(database_url: str, on_applied: Callable[[str], object] | None = None) -> list[str]:
    """Apply pending migrations; return the names applied (empty when already up to date)."""
    applied: list[str] = []

    def progress(event: str, _app_label: str, name: str) -> None:
        if event == "apply_done":
            applied.append(name)
            if on_applied:
                on_applied(name)

    try:
        await migrate(config=tortoise_config(database_url), progress=progress)
    finally:
        await Tortoise.close_connections()
    return applied


async def ping_database() -> None:
    """One trivial statement: raises when the database does not answer."""
    await connections.get("default").execute_query("SELECT 1")


@asynccontextmanager
async def open_database(database_url: str, sqlite_engine: str = "inline", loop_budget_ms: float = 0) -> AsyncIterator[None]:
    """Connect Tortoise for the lifetime of the block (global fallback: request tasks share it).
    `sqlite_engine` and `loop_budget_ms`: STEPWISE_SQLITE_ENGINE and STEPWISE_SQLITE_LOOP_BUDGET_MS."""
    config = tortoise_config(database_url, sqlite_engine, loop_budget_ms)
    await Tortoise.init(config=config, _enable_global_fallback=True)
    try:
        yield
    finally:
        await Tortoise.close_connections()
