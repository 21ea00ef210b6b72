"""Tortoise models and the ORM configuration built from a database URL."""

from __future__ import annotations

from pathlib import Path

from tortoise.backends.base.config_generator import expand_db_url

from stepwise.models.db.sqlite_engine import shares_file

APP_LABEL = "stepwise"
MODEL_MODULES = [
    "stepwise.models.db.accounts",
    "stepwise.models.db.datasets",
    "stepwise.models.db.campaigns",
    "stepwise.models.db.issues",
    "stepwise.models.db.files",
    "stepwise.models.db.rollups",
    "stepwise.models.db.notifications",
]
MIGRATIONS_MODULE = "stepwise.models.db.migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000


def connection_config(database_url: str, sqlite_engine: str = "inline", loop_budget_ms: float = 0) -> dict | str:
    """SQLite gets WAL, a busy timeout and synchronous=NORMAL. With the `inline` engine
    (sqlite_engine.py): IMMEDIATE write transactions, short statements on the event loop, each
    checked against `loop_budget_ms` of CPU time when it is not 0, and long ones on a thread. With
    `aiosqlite`: Tortoise's own client, every statement on its connection thread. PostgreSQL: the
    URL's settings, with a pool that does not reset a connection it gets back (keep_session), and
    the JIT compiler off on its connections."""
    if database_url.startswith("sqlite://"):
        path = database_url.removeprefix("sqlite://")
        if shares_file(path):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        credentials = {
            "file_path": path,
            "journal_mode": "WAL",
            "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
            "synchronous": "NORMAL",
            "foreign_keys": "ON",
        }
        if sqlite_engine == "aiosqlite":
            return {"engine": "tortoise.backends.sqlite", "credentials": credentials}
        return {
            "engine": "stepwise.models.db.sqlite_engine",
            "credentials": {**credentials, "loop_budget_ms": loop_budget_ms},
        }
    config = expand_db_url(database_url.replace("postgresql://", "postgres://", 1))
    config["credentials"]["reset"] = keep_session
    # No JIT: PostgreSQL compiles any statement its planner costs above jit_above_cost, and a bulk
    # write (an import's quality counts, a launch) spent 1-1.5 s compiling to save less than that
    # (docs/benchmarks.md, issue 12). Stepwise's statements are indexed or one pass over a version.
    config["credentials"].setdefault("server_settings", {})["jit"] = "off"
    return config


async def keep_session(_connection) -> None:
    """asyncpg's pool, by default, sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL` each time a connection goes back to it: one more round trip per statement run
    outside a transaction, and per transaction. Stepwise changes no session state on the pool's
    connections (no SET, LISTEN, advisory lock or cursor outliving its transaction; the broker
    listens on a connection of its own), so there is nothing to reset. asyncpg still rolls back
    a transaction left open (docs/benchmarks.md, "PostgreSQL round trips")."""


def tortoise_config(database_url: str, sqlite_engine: str = "inline", loop_budget_ms: float = 0) -> dict:
    """Tortoise's configuration: one "default" connection (see connection_config)."""
    return {
        "connections": {"default": connection_config(database_url, sqlite_engine, loop_budget_ms)},
        "apps": {
            APP_LABEL: {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


# For Tortoise's own developer CLI (`tortoise -c stepwise.models.db.TORTOISE_ORM makemigrations`).
TORTOISE_ORM = tortoise_config("sqlite://:memory:")
