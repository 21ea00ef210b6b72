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


# ---------------------------------------------------------------- the first hour: refusals before start


def hide_modules(tmp_path: Path, *names: str) -> dict[str, str]:
    """Environment where importing each module fails as if it were not installed."""
    shadow = tmp_path / "shadow"
    for name in names:
        (shadow / name).mkdir(parents=True, exist_ok=True)
        (shadow / name / "__init__.py").write_text(f"raise ModuleNotFoundError(\"No module named '{name}'\")\n")
    return {"PYTHONPATH": str(shadow)}


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The output of a refusal: exactly one line on stderr, nothing about starting."""
    assert "Traceback" not in result.stderr + result.stdout
    assert "startup complete" not in result.stderr + result.stdout and "Serving" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("Data directory:")]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_a_missing_driver_is_one_line_naming_the_install_command(tmp_path, env):
    for package, pin, settings in (
        ("redis", "redis==7.4.1", {"STEPWISE_BROKER_URL": "redis://127.0.0.1:6379"}),
        ("asyncpg", "asyncpg==0.32.*", {"STEPWISE_BROKER_URL": "postgres://postgres@127.0.0.1:5432/x"}),
        ("asyncpg", "asyncpg==0.32.*", {"STEPWISE_DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x",
                                        "STEPWISE_BROKER_URL": "redis://127.0.0.1:6379"}),
    ):
        hidden = {**env, **settings, **hide_modules(tmp_path / package, package), "COLUMNS": "60"}
        for args in (("serve", "--workers", "2"), ("serve",)):
            result = stepwise(*args, env=hidden)
            assert result.returncode == 1, (args, settings, result.stderr)
            line = one_error_line(result)
            assert f"-m pip install '{pin}'" in line and package in line, line
    hidden = {**env, "STEPWISE_DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x", **hide_modules(tmp_path / "m", "asyncpg")}
    result = stepwise("migrate", env=hidden)
    assert result.returncode == 1 and "pip install 'asyncpg==0.32.*'" in one_error_line(result)


def test_the_drivers_are_installed_with_the_package_at_the_pins_the_error_names():
    import tomllib

    from stepwise.preflight import DRIVER_PINS

    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert set(DRIVER_PINS.values()) <= set(dependencies)


def test_a_second_server_on_the_same_sqlite_file_with_the_memory_broker_is_refused(env):
    from conftest import free_port, running_server

    with running_server(env):
        second = stepwise("serve", "--port", str(free_port()), env={**env, "COLUMNS": "60"})
        assert second.returncode == 1
        line = one_error_line(second)
        assert "another stepwise server already serves" in line and "STEPWISE_BROKER_URL" in line
    # The lock went with the first server: the next one starts.
    with running_server(env) as base:
        assert base.startswith("http://127.0.0.1:")


def test_a_port_in_use_is_one_line_naming_the_port_option(env):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = stepwise("serve", "--port", str(port), env={**env, "COLUMNS": "60"})
    assert result.returncode == 1
    line = one_error_line(result)
    assert f"port {port}" in line and "--port" in line


def test_the_default_data_directory_is_per_user_and_printed(tmp_path):
    home = tmp_path / "home"
    result = stepwise("migrate", env={"HOME": str(home), "XDG_DATA_HOME": "", "COLUMNS": "300"})
    assert result.returncode == 0, result.stderr
    expected = home / ".local" / "share" / "stepwise"
    assert f"Data directory: {expected}" in result.stderr
    assert (expected / "stepwise.sqlite3").exists()
    xdg = stepwise("migrate", env={"HOME": str(home), "XDG_DATA_HOME": str(tmp_path / "xdg"), "COLUMNS": "300"})
    assert f"Data directory: {tmp_path / 'xdg' / 'stepwise'}" in xdg.stderr


def test_serve_prints_the_urls_of_the_api_and_the_pages_and_they_answer(env, tmp_path):
    import re
    import tempfile
    import time

    import httpx
    from conftest import free_port

    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STEPWISE_")}
    with tempfile.TemporaryFile() as output:
        server = subprocess.Popen([sys.executable, "-m", "stepwise", "serve", "--port", str(port)],
                                  env={**clean, **env}, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
        try:
            deadline, printed = time.monotonic() + 30, ""
            while time.monotonic() < deadline and server.poll() is None:
                output.seek(0)
                printed = output.read().decode()
                try:
                    if "annotator's queue" in printed and httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).is_success:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            urls = re.findall(r"http://127\.0\.0\.1:\d+/\S*", printed)
            assert [url.rsplit(":", 1)[1] for url in urls] == [f"{port}/graphql", f"{port}/dashboard/", f"{port}/worker/"]
            for url in urls:  # each opens in a browser: the HTML page GraphiQL, the dashboard, the worker page
                answer = httpx.get(url, headers={"accept": "text/html"}, timeout=10)
                assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html"), url
        finally:
            server.terminate()
            server.wait(timeout=10)
