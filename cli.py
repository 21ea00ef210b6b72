"""The `stepwise` command: serve, migrate, demo, schema, token, backup."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import typer
from rich.console import Console

from stepwise.config import ConfigError, Settings, load_settings

app = typer.Typer(help="Stepwise: an annotation-campaign server with a GraphQL API.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens for scripts.", no_args_is_help=True)
app.add_typer(token_app, name="token")
console = Console(stderr=True)


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as error:
        console.print(f"[red]error:[/red] {error}", soft_wrap=True)
        raise typer.Exit(2) from None


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}", soft_wrap=True)  # one line, however narrow the terminal
    raise typer.Exit(1)


def _preflight(check, *args) -> object:
    """Run one of preflight.py's checks; its refusal is one line and exit code 1."""
    from stepwise.preflight import PreflightError

    try:
        return check(*args)
    except PreflightError as error:
        _fail(str(error))


def _migrate(settings: Settings) -> None:
    from stepwise.models.db.lifecycle import apply_migrations
    from stepwise.preflight import check_drivers

    _preflight(check_drivers, settings, False)
    console.print(f"Data directory: {settings.data_dir.resolve()} (set STEPWISE_DATA_DIR to move it)", soft_wrap=True)
    try:
        applied = asyncio.run(
            apply_migrations(settings.database_url, lambda name: console.print(f"  applied [cyan]{name}[/cyan]"))
        )
    except OSError as error:
        _fail(f"cannot reach the database at {settings.database_url}: {error}")
    console.print(f"Database is up to date ({len(applied)} migration(s) applied).")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="TCP port."),
    workers: int = typer.Option(1, min=1, help="Server processes; more than 1 needs a Redis or PostgreSQL broker."),
    reload: bool = typer.Option(False, help="Restart on code changes (development)."),
) -> None:
    """Apply pending migrations, then serve the API (GraphiQL at /graphql)."""
    settings = _settings()
    if workers > 1 and settings.broker_is_memory:
        _fail(
            "--workers > 1 needs a shared broker: events would not cross processes with memory://. "
            "Set STEPWISE_BROKER_URL=redis://127.0.0.1:6379 (or postgres://...)."
        )
    if workers > 1 and reload:
        _fail("--reload runs a single process: drop --workers or --reload.")
    if workers > 1 and settings.uses_sqlite and settings.sqlite_engine == "aiosqlite":
        # Tortoise's own SQLite client opens deferred transactions: concurrent writers of two
        # processes would get "database is locked".
        _fail("--workers > 1 on SQLite needs STEPWISE_SQLITE_ENGINE=inline (the default).")
    from stepwise.preflight import check_drivers, check_port, hold_serve_lock

    # Each refusal comes before uvicorn starts: one line, exit code 1, whatever --workers says.
    _preflight(check_drivers, settings)
    _preflight(hold_serve_lock, settings)  # held until this process (uvicorn, after exec) exits
    _preflight(check_port, host, port)
    _migrate(settings)
    console.print(f"Serving GraphQL on http://{host}:{port}/graphql ({workers} worker(s)).")
    console.print(f"Live campaign dashboard: http://{host}:{port}/dashboard/ ; annotator's queue: http://{host}:{port}/worker/")
    # Replace this process with plain uvicorn rather than calling it from inside typer/click:
    # on CPython 3.11 the deeper start-up stack made every request page-fault ~8x more
    # (frame-stack chunk churn, CPython gh-142183); measured in docs/benchmarks.md.
    # serving.py: uvicorn plus a deadline on request headers, which uvicorn lacks.
    args = [sys.executable, "-m", "stepwise.serving", "--host", host, "--port", str(port),
            "--workers", str(workers), "--log-level", settings.log_level.lower()]
    os.execv(sys.executable, args + (["--reload"] if reload else []))


@app.command()
def migrate() -> None:
    """Apply pending database migrations and say which."""
    _migrate(_settings())


@app.command()
def demo() -> None:
    """Load demo data into the database (idempotent) and print the demo users' credentials."""
    from stepwise.demo import load_demo

    settings = _settings()
    _migrate(settings)
    accounts = asyncio.run(load_demo(settings.database_url, console.print))
    from rich.table import Table

    table = Table(title="Demo users (sign in with logIn)")
    for column in ("username", "password", "organization role", "dataset role"):
        table.add_column(column)
    for row in accounts:
        table.add_row(*row)
    Console().print(table)


@app.command()
def schema(output: Path | None = typer.Option(None, "--output", "-o", help="Write the SDL to this file.")) -> None:
    """Print the GraphQL schema (SDL)."""
    from stepwise.schema.app import build_schema

    sdl = build_schema(_settings()).as_str() + "\n"
    if output is None:
        sys.stdout.write(sdl)
    else:
        output.write_text(sdl)
        console.print(f"Wrote {output}.")


@token_app.command("create")
def token_create(
    username: str = typer.Argument(..., help="The user the token acts as."),
    label: str = typer.Option("cli", help="A note to recognise the token by."),
) -> None:
    """Print a new API token for USER (use it as 'Authorization: Bearer <token>')."""
    from stepwise.models.actions.accounts import create_token_for
    from stepwise.models.db.lifecycle import open_database
    from stepwise.models.errors import DomainError

    settings = _settings()

    async def run() -> str:
        async with open_database(settings.database_url):
            return await create_token_for(username, label)

    try:
        token = asyncio.run(run())
    except DomainError as error:
        _fail(error.message)
    print(token)


@app.command()
def backup(path: Path = typer.Argument(..., help="A new file to write the copy to.")) -> None:
    """Write a consistent copy of the live SQLite database to PATH while the server goes on.

    Restore by stopping the server and putting the copy in place of the database file. Uploaded
    files (STEPWISE_FILES_DIR) are not in the copy: copy that folder after the database."""
    from stepwise.models.db.backup import BackupError, backup_sqlite, sqlite_path

    settings = _settings()
    if not settings.uses_sqlite:
        _fail("stepwise backup copies a SQLite database; for PostgreSQL use pg_dump (docs/operations.md, Backups).")
    source = sqlite_path(settings.database_url)
    console.print(f"Backing up {source} to {path} ...")

    def progress(copied: int, expected: int) -> None:
        console.print(f"  {copied / 2**20:,.1f} of about {expected / 2**20:,.1f} MiB copied")

    try:
        size = backup_sqlite(source, path, progress)
    except BackupError as error:
        _fail(str(error))
    console.print(f"Backup complete: {path} ({size / 2**20:,.1f} MiB), checked.")


def main() -> None:
    app()
