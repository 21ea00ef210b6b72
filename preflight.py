"""Checks `stepwise serve` makes before it starts, each failing with one line a person can act on:
the database and broker drivers are importable, the port is free, and no other server holds the
same SQLite file with the in-process broker."""

from __future__ import annotations

import errno
import fcntl
import importlib
import os
import socket
import sys
from pathlib import Path

from stepwise.config import Settings

# The driver each URL scheme needs, and the pin the package installs (pyproject.toml
# dependencies; tests/test_cli.py checks that both agree).
DRIVER_PINS = {"asyncpg": "asyncpg==0.32.*", "redis": "redis==7.4.1"}
DATABASE_DRIVERS = {"postgres": "asyncpg", "postgresql": "asyncpg"}
BROKER_DRIVERS = {"redis": "redis", "rediss": "redis", "postgres": "asyncpg", "postgresql": "asyncpg"}


class PreflightError(Exception):
    """Why the server cannot start, in one line."""


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].lower()


def _require_module(module: str, needed_by: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError:
        install = f"{sys.executable} -m pip install '{DRIVER_PINS[module]}'"
        raise PreflightError(f"{needed_by} needs the Python package {module}, which is not installed: "
                             f"run {install}") from None


def check_drivers(settings: Settings, broker: bool = True) -> None:
    """The drivers the database URL (and the broker URL, when `broker`) need can be imported."""
    module = DATABASE_DRIVERS.get(_scheme(settings.database_url))
    if module:
        _require_module(module, "STEPWISE_DATABASE_URL (PostgreSQL)")
    module = BROKER_DRIVERS.get(_scheme(settings.broker_url)) if broker else None
    if module:
        _require_module(module, f"STEPWISE_BROKER_URL ({_scheme(settings.broker_url)}://)")


def check_port(host: str, port: int) -> None:
    """Bind the address the way uvicorn will (SO_REUSEADDR), then let it go: a port in use is
    reported here, before uvicorn prints its start-up lines."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as error:
        raise PreflightError(f"cannot listen on {host}:{port}: {error.strerror}; check --host") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise PreflightError(f"port {port} on {host} is already in use (another server?): stop it, "
                                     f"or choose another port with --port") from None
            raise PreflightError(f"cannot listen on {host}:{port}: {error.strerror}; check --host and --port") from None


def sqlite_path(database_url: str) -> Path | None:
    """The file of a sqlite:// URL; None for PostgreSQL and in-memory databases."""
    if _scheme(database_url) != "sqlite":
        return None
    path = database_url.split("://", 1)[1].split("?", 1)[0]
    return None if path in ("", ":memory:") else Path(path)


def hold_serve_lock(settings: Settings) -> int | None:
    """With SQLite and the in-process broker (memory://), one server per database file: a second
    one would start fine, and its subscribers would never hear of the first one's changes. Take an
    exclusive lock on `<database file>.serve-lock`; the returned descriptor stays open (and
    inheritable, so it survives the exec into uvicorn) until the process exits, which releases it.
    None when there is nothing to lock (PostgreSQL, or a shared broker)."""
    path = sqlite_path(settings.database_url)
    if path is None or not settings.broker_is_memory:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_file = path.with_name(path.name + ".serve-lock")
    descriptor = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise PreflightError(
            f"another stepwise server already serves {path} with the in-process broker (memory://): stop it, "
            f"or give both STEPWISE_BROKER_URL=redis://... so that their subscribers hear each other") from None
    os.set_inheritable(descriptor, True)
    return descriptor
