"""The `stepwise` command as a person types it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def stepwise(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STEPWISE_")}
    return subprocess.run(
        [sys.executable, "-m", "stepwise", *args], env={**clean, **(env or {})}, cwd=ROOT,
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {"STEPWISE_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}


def test_schema_prints_the_sdl_and_writes_a_file(tmp_path, env):
    printed = stepwise("schema", env=env)
    assert printed.returncode == 0 and "type Query" in printed.stdout
    out = tmp_path / "schema.graphql"
    assert stepwise("schema", "--output", str(out), env=env).returncode == 0
    assert out.read_text() == printed.stdout


def test_migrate_says_what_it_applied(env):
    first = stepwise("migrate", env=env)
    assert first.returncode == 0, first.stderr
    migrations = sorted(p.stem for p in (ROOT / "models" / "db" / "migrations").glob("0*.py"))
    assert [f"applied {name}" for name in migrations] == [l.strip() for l in first.stderr.splitlines() if "applied " in l
                                                          and "migration(s)" not in l]
    assert f"{len(migrations)} migration(s) applied" in first.stderr
    again = stepwise("migrate", env=env)
    assert "0 migration(s) applied" in again.stderr


def test_demo_is_idempotent_and_prints_credentials(env):
    first = stepwise("demo", env=env)
    assert first.returncode == 0, first.stderr
    for username in ("ada", "max", "cora", "lou", "mel"):
        assert username in first.stdout
    assert "stepwise-demo-2026" in first.stdout
    second = stepwise("demo", env=env)
    assert second.returncode == 0 and "nothing changed" in second.stderr
    counts = subprocess.run(
        [sys.executable, "-c", (
            "import asyncio, sys\n"
            "from stepwise.models.db.lifecycle import open_database\n"
            "from stepwise.models.db.accounts import User, Organization\n"
            "from stepwise.models.db.datasets import Asset\n"
            "async def main():\n"
            "    async with open_database(sys.argv[1]):\n"
            "        print(await User.all().count(), await Organization.all().count(), await Asset.all().count())\n"
            "asyncio.run(main())\n"
        ), f"sqlite://{env['STEPWISE_DATA_DIR']}/stepwise.sqlite3"],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert counts.stdout.split() == ["5", "1", "300"], counts.stderr


def test_token_create_prints_a_usable_token(env):
    assert stepwise("demo", env=env).returncode == 0
    created = stepwise("token", "create", "max", env=env)
    assert created.returncode == 0 and created.stdout.strip().startswith("swt_")
    unknown = stepwise("token", "create", "nobody", env=env)
    assert unknown.returncode == 1 and "No user named 'nobody'" in unknown.stderr


def test_serve_refuses_several_workers_with_the_memory_broker(env):
    result = stepwise("serve", "--workers", "2", env=env)
    assert result.returncode == 1
    assert "memory://" in result.stderr and "STEPWISE_BROKER_URL" in result.stderr


def test_serve_refuses_several_workers_on_the_stock_aiosqlite_engine(env):
    result = stepwise("serve", "--workers", "2",
                      env={**env, "STEPWISE_BROKER_URL": "redis://127.0.0.1:6379", "STEPWISE_SQLITE_ENGINE": "aiosqlite"})
    assert result.returncode == 1
    assert "STEPWISE_SQLITE_ENGINE=inline" in result.stderr and "Traceback" not in result.stderr


def test_a_bad_setting_stops_with_one_readable_line(env):
    result = stepwise("serve", env={**env, "STEPWISE_MAX_REQUEST_MB": "lots"})
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "STEPWISE_MAX_REQUEST_MB" in lines[0] and "Traceback" not in result.stderr


def test_unreachable_database_is_one_readable_line(env):
    result = stepwise("migrate", env={**env, "STEPWISE_DATABASE_URL": "postgres://postgres@127.0.0.1:1/nowhere"})
    assert result.returncode == 1
    assert "cannot reach the database" in result.stderr and "Traceback" not in result.stderr
