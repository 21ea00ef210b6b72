"""The one clock of the server. Pure; tests replace it instead of sleeping to a deadline."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

_source: Callable[[], datetime] | None = None


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return _source() if _source is not None else datetime.now(UTC)


def set_clock(source: Callable[[], datetime] | None) -> None:
    """Replace the clock (None restores the real one)."""
    global _source
    _source = source
