"""Tortoise models and the ORM configuration built from a database URL."""

from __future__ import annotations

from pathlib import Path

from stepwise.models.db.sqlite_engine import shares_file

APP_LABEL = "stepwise"
MODEL_MODULES = [
    "stepwise.models.db.accounts",
    "stepwise.models.db.datasets",
    "stepwise.models.db.campaigns",
    "stepwise.models.db.issues",
    "stepwise.models.db.files",
]
MIGRATIONS_MODULE = "stepwise.models.db.migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000


def connection_config(database_url: str) -> dict | str:
    """SQLite gets WAL, a busy timeout and IMMEDIATE write transactions, short statements on the
    event loop and long ones on a thread (sqlite_engine.py); PostgreSQL the URL as is."""
    if database_url.startswith("sqlite://"):
        path = database_url.removeprefix("sqlite://")
        if shares_file(path):
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


def tortoise_config(database_url: str) -> dict:
    return {
        "connections": {"default": connection_config(database_url)},
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
