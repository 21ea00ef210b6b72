"""A consistent copy of a live SQLite database, with SQLite's online backup API.

The copy is one read transaction of the source: in WAL mode writers go on meanwhile, and the copy
holds exactly what was committed when it began (a stepped backup would restart at every write of
another connection, and might never end on a busy server). It is written to a temporary file
beside the target, checked, then renamed into place: a failed or interrupted backup leaves no
target file behind.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path


class BackupError(Exception):
    """A backup that cannot be made; the message says why in one line."""


def sqlite_path(database_url: str) -> Path:
    return Path(database_url.removeprefix("sqlite://"))


def backup_sqlite(source: Path, target: Path, progress: Callable[[int, int], None] | None = None,
                  every_seconds: float = 1.0) -> int:
    """Copy the database at `source` to `target` (a new file); returns the copy's size in bytes.
    `progress(bytes_copied, bytes_expected)` is called about every `every_seconds` meanwhile."""
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    if target.exists():
        raise BackupError(f"{target} exists already: give the path of a new file")
    if not target.parent.is_dir():
        raise BackupError(f"the folder {target.parent} does not exist")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    expected = source.stat().st_size
    done = threading.Event()
    reporter = None
    if progress is not None:
        def report() -> None:
            while not done.wait(every_seconds):
                progress(partial.stat().st_size if partial.exists() else 0, expected)
        reporter = threading.Thread(target=report, daemon=True)
        reporter.start()
    try:
        _copy(source, partial)
        size = partial.stat().st_size
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        done.set()
        if reporter is not None:
            reporter.join()
    return size


def _copy(source: Path, partial: Path) -> None:
    try:
        reading = sqlite3.connect(source, timeout=10)
    except sqlite3.Error as error:
        raise BackupError(f"cannot open {source}: {error}") from None
    try:
        writing = sqlite3.connect(partial)
        try:
            reading.backup(writing)  # all pages in one step: one read transaction, one snapshot
            check = writing.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"the copy failed its integrity check: {check}")
            writing.commit()
        except sqlite3.Error as error:
            raise BackupError(f"the copy failed: {error}") from None
        finally:
            writing.close()
    finally:
        reading.close()
    with open(partial, "rb+") as copied:
        os.fsync(copied.fileno())
