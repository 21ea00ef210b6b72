"""Files on disk under STEPWISE_FILES_DIR (no database here).

An upload is streamed into a temporary file in that directory, so keeping it is an atomic
rename; every name on disk is random, never the client's. Several server processes share the
directory, as they share the database.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

TEMPORARY_PREFIX = ".upload-"
TEMPORARY_SUFFIX = ".part"
HEAD_BYTES = 8  # enough to recognise a file type by its first bytes
DISPLAY_NAME_MAX = 200
# A temporary file this old, or a kept file no row names, is a leftover of a process that died.
LEFTOVER_AGE_SECONDS = 3600
KEPT_NAME = re.compile(r"^[0-9a-f]{32}\.[a-z]{1,5}$")  # what random_name makes


@dataclass(eq=False)
class IncomingFile:
    """A file part of a multipart request, as streamed to disk. `path` is the temporary file
    (None once kept or discarded); past the size limit nothing more is written and the partial
    file is removed at once (`too_large`)."""

    filename: str
    content_type: str
    path: Path | None
    size: int = 0
    too_large: bool = False
    head: bytes = b""

    def discard(self) -> None:
        """Remove the temporary file, if it is still there (the end of every request calls this)."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None


def open_temporary(directory: Path) -> tuple[Path, BinaryIO]:
    """A new, exclusively created temporary file in `directory` (made if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, suffix=TEMPORARY_SUFFIX, dir=directory)
    return Path(name), os.fdopen(handle, "wb")


def random_name(suffix: str) -> str:
    """A name for a kept file: 128 random bits, nothing from the client."""
    return secrets.token_hex(16) + suffix


def keep(incoming: IncomingFile, directory: Path, name: str) -> Path:
    """Make the temporary file durable and give it its final name (blocking: run it on a thread).

    fsync the data, rename within the directory (atomic), fsync the directory so the new name
    survives a crash too."""
    assert incoming.path is not None and incoming.path.parent == directory
    with open(incoming.path, "rb") as data:
        os.fsync(data.fileno())
    target = directory / name
    os.rename(incoming.path, target)
    incoming.path = None
    _fsync_directory(directory)
    return target


def remove(path: Path) -> None:
    """Delete a kept file; one already gone is fine (another process may have removed it)."""
    path.unlink(missing_ok=True)


def _fsync_directory(directory: Path) -> None:
    handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def sweep_leftovers(directory: Path, kept_names: set[str], now: float | None = None) -> list[str]:
    """Remove what a crashed process left behind: temporary files, and kept files no row names
    (renamed but never committed), once older than LEFTOVER_AGE_SECONDS (younger ones may belong
    to an upload in flight in another process). Returns the names removed."""
    if not directory.is_dir():
        return []
    cutoff = (time.time() if now is None else now) - LEFTOVER_AGE_SECONDS
    removed = []
    for entry in directory.iterdir():
        if entry.name in kept_names or not entry.is_file():
            continue
        if not entry.name.startswith(TEMPORARY_PREFIX) and not KEPT_NAME.match(entry.name):
            continue  # not ours
        try:
            if entry.stat().st_mtime < cutoff:
                entry.unlink(missing_ok=True)
                removed.append(entry.name)
        except FileNotFoundError:
            continue
    return removed


def display_filename(sent: str | None, default: str) -> str:
    """The name a client sent, fit to show: no directories, no control or direction-changing
    characters, whitespace collapsed, at most DISPLAY_NAME_MAX characters (keeping the extension)."""
    name = re.split(r"[\\/]", sent or "")[-1]
    name = unicodedata.normalize("NFC", name)
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C"))
    name = " ".join(name.split())
    if len(name) > DISPLAY_NAME_MAX:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 10:
            name = stem[: DISPLAY_NAME_MAX - len(extension) - 1] + "." + extension
        else:
            name = name[:DISPLAY_NAME_MAX]
    return name or default
