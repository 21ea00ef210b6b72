"""`stepwise backup PATH`: a consistent copy of the live SQLite database while writes go on, which
a server then runs on with every change committed before the copy began."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from test_cli import stepwise

import pytest


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {"STEPWISE_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}


def organizations(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {name for (name,) in conn.execute("SELECT name FROM organization")}


class Writer(threading.Thread):
    """Another client of the live database: one small write transaction after another."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path, self.committed, self.stop = path, [], threading.Event()

    def run(self) -> None:
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        n = 0
        while not self.stop.is_set():
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO organization (name, created_at) VALUES (?, CURRENT_TIMESTAMP)", [f"w{n}"])
            conn.execute("COMMIT")
            self.committed.append(f"w{n}")
            n += 1
        conn.close()


def test_a_backup_taken_during_writes_is_consistent_and_serves(tmp_path, env):
    assert stepwise("demo", env=env).returncode == 0
    live = tmp_path / "data" / "stepwise.sqlite3"
    writer = Writer(live)
    writer.start()
    while len(writer.committed) < 50:  # writes are going on
        threading.Event().wait(0.01)
    before = set(writer.committed)
    target = tmp_path / "copy.sqlite3"
    made = stepwise("backup", str(target), env=env)
    after = set(writer.committed)
    writer.stop.set()
    writer.join()
    assert made.returncode == 0, made.stderr
    assert "Backup complete" in made.stderr and "Traceback" not in made.stderr
    assert len(after) > len(before)  # the writer was not held up by the backup

    with sqlite3.connect(target) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    copied_writes = {name for name in organizations(target) if name.startswith("w")}
    # Every write committed before the backup began is in the copy; the copy is a prefix of the
    # writer's commits (one snapshot), never a write with an earlier one missing.
    assert before <= copied_writes <= set(writer.committed)
    assert copied_writes == {f"w{n}" for n in range(len(copied_writes))}

    # Restored, it serves: the demo's users are there and a token can be made for one.
    restored = {**env, "STEPWISE_DATABASE_URL": f"sqlite://{target}"}
    token = stepwise("token", "create", "max", env=restored)
    assert token.returncode == 0 and token.stdout.startswith("swt_"), token.stderr


def test_backup_refuses_what_it_cannot_do_in_one_line(tmp_path, env):
    missing = stepwise("backup", str(tmp_path / "copy.sqlite3"), env=env)
    assert missing.returncode == 1 and "no database at" in missing.stderr
    assert stepwise("demo", env=env).returncode == 0
    existing = tmp_path / "taken.sqlite3"
    existing.write_text("precious")
    refused = stepwise("backup", str(existing), env=env)
    assert refused.returncode == 1 and "exists already" in refused.stderr
    assert existing.read_text() == "precious"
    nowhere = stepwise("backup", str(tmp_path / "no" / "such" / "dir.sqlite3"), env=env)
    assert nowhere.returncode == 1 and "does not exist" in nowhere.stderr
    postgres = stepwise("backup", str(tmp_path / "pg.sqlite3"),
                        env={**env, "STEPWISE_DATABASE_URL": "postgres://postgres@127.0.0.1:1/x"})
    assert postgres.returncode == 1 and "pg_dump" in postgres.stderr
    for result in (missing, refused, nowhere, postgres):
        assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no partial file left
