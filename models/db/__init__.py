"""Tortoise models and the ORM configuration built from a database URL."""

from __future__ import annotations

from pathlib import Path

APP_LABEL = "stepwise"
MODEL_MODULES = [
    "stepwise.models.db.accounts",
    "stepwise.models.db.datasets",
    "stepwise.models.db.campaigns",
    "stepwise.models.db.issues",
]
MIGRATIONS_MODULE = "stepwise.models.db.migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000
READER = "reader"


def connection_config(database_url: str) -> dict | str:
    """SQLite gets WAL, a busy timeout and IMMEDIATE write transactions; PostgreSQL the URL as is."""
    if database_url.startswith("sqlite://"):
        path = database_url.removeprefix("sqlite://")
        if path not in (":memory:", "") and not path.startswith("file:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return {
            "engine": "stepwise.models.db.sqlite_engine",
            "credentials": {
                "file_path": path,
                "journal_mode": "WAL",
                "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
                "synchronous": "NORMAL",
                "foreign_keys": "ON",
            },
        }
    return database_url.replace("postgresql://", "postgres://", 1)


def has_reader(database_url: str) -> bool:
    """A SQLite file gets a second connection for reads outside transactions: in WAL mode it
    reads while the first one writes, instead of queueing behind the writer's lock (Tortoise
    serializes every statement of a SQLite connection). PostgreSQL has a pool already; an
    in-memory SQLite database cannot be shared by two connections."""
    path = database_url.removeprefix("sqlite://")
    return database_url.startswith("sqlite://") and path not in (":memory:", "") and not path.startswith("file:")


def tortoise_config(database_url: str) -> dict:
    connections = {"default": connection_config(database_url)}
    if has_reader(database_url):
        connections[READER] = connection_config(database_url)
    return {
        "connections": connections,
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
