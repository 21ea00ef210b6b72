"""pyinstrument around in-process requests, and where the time went by library.

`profiled(...)` samples this process's main thread (the event loop: the httpx client, the ASGI
app, strawberry, Tortoise, the driver's Python side). On SQLite the statements themselves run
in aiosqlite's worker thread and on PostgreSQL in the server: the loop then waits in
`select`, which is reported as "waiting (DB thread / socket)". Built-ins and standard-library
functions (copy, functools, json, enum...) count for the library that called them; asyncio's
own frames are "asyncio event loop".
"""

from __future__ import annotations

import sysconfig
import time
from collections import defaultdict
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Self

from common import ROOT, BenchError, say

CATEGORIES = [
    # (name, substrings of the file path, first match wins)
    ("stepwise (our code)", (str(ROOT) + "/",)),
    ("strawberry", ("/strawberry/",)),
    ("graphql-core", ("/graphql/",)),
    ("tortoise ORM + pypika", ("/tortoise/", "/pypika_tortoise/", "/pypika/")),
    ("DB driver (aiosqlite/sqlite3/asyncpg)", ("/aiosqlite/", "/sqlite3/", "/asyncpg/")),
    ("ASGI/HTTP (starlette, httpx, anyio, h11)", ("/starlette/", "/httpx/", "/httpcore/", "/anyio/", "/h11/",
                                                  "/asgi_lifespan/", "/uvicorn/")),
    ("asyncio event loop", ("/asyncio/", "/concurrent/")),
    ("pyinstrument", ("/pyinstrument/",)),
]
WAIT = "waiting (DB thread / socket)"
STDLIB = sysconfig.get_paths()["stdlib"] + "/"


def _category(frame, parent: str) -> str:
    """The library a frame's self time belongs to; built-ins (no file) count for their caller's
    library, except the event loop's poll, which is waiting."""
    path = frame.file_path or ""
    if frame.function.endswith(("poll", "select")) and (path.startswith("<") or path.endswith("selectors.py")):
        return WAIT
    if path.startswith("<") or not path:
        return parent
    if path.startswith(STDLIB) and "/asyncio/" not in path and "/concurrent/" not in path:
        return parent  # copy, functools, json, enum, typing...: the caller's library asked for it
    if "/.venv/" in path or "site-packages" in path:
        for name, needles in CATEGORIES[1:]:
            if any(n in path for n in needles):
                return name
        return "other libraries"
    for name, needles in CATEGORIES:
        if any(n in path for n in needles):
            return name
    return "other (stdlib)"


def _short(path: str) -> str:
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1]
    if path.startswith(str(ROOT) + "/"):
        return str(Path(path).relative_to(ROOT))
    return path.rsplit("/", 2)[-1] if "/" in path else path


def breakdown(session) -> tuple[dict[str, float], float, dict[str, float], dict[str, float]]:
    """({category: self seconds}, total seconds, {stepwise function: inclusive seconds},
    {any function: self seconds})."""
    root = session.root_frame(trim_stem=False)
    by_category: dict[str, float] = defaultdict(float)
    ours: dict[str, float] = defaultdict(float)
    by_function: dict[str, float] = defaultdict(float)

    def walk(frame, inside: frozenset, parent_category: str) -> None:
        own = frame.total_self_time if not frame.is_synthetic else 0.0
        category = parent_category if frame.is_synthetic else _category(frame, parent_category)
        if own > 0:
            by_category[category] += own
            by_function[f"{frame.function} ({_short(frame.file_path or '?')}:{frame.line_no})"] += own
        key = None
        path = frame.file_path or ""
        if (not frame.is_synthetic and path.startswith(str(ROOT) + "/") and "/.venv/" not in path
                and "/bench/" not in path):
            key = f"{frame.function} ({_short(path)})"
            if key not in inside:  # recursion: count once
                ours[key] += frame.time
        nested = inside | {key} if key else inside
        for child in frame.children:
            walk(child, nested, category)

    if root is not None:
        walk(root, frozenset(), "other (stdlib)")
    return dict(by_category), (root.time if root is not None else 0.0), dict(ours), dict(by_function)


@asynccontextmanager
async def profiled(label: str, out_dir: Path, requests: int):
    """Profile the block; print the breakdown per request and write the full text/HTML render."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        raise BenchError("--profile needs pyinstrument: .venv/bin/pip install -e '.[bench]'") from None

    profiler = Profiler(interval=0.001, async_mode="disabled")
    started = time.perf_counter()
    profiler.start()
    try:
        yield
    finally:
        profiler.stop()
    wall = time.perf_counter() - started
    session = profiler.last_session
    categories, total, ours, functions = breakdown(session)
    out_dir.mkdir(parents=True, exist_ok=True)
    slug = label.replace(" ", "_").replace("/", "_")
    (out_dir / f"{slug}.txt").write_text(profiler.output_text(unicode=True, color=False, show_all=False))
    (out_dir / f"{slug}.html").write_text(profiler.output_html())
    say(f"--- profile: {label} ({requests} requests, wall {wall / requests * 1000:.2f} ms/request, "
        f"sampled {total / requests * 1000:.2f} ms/request, process CPU {session.cpu_time / requests * 1000:.2f} "
        f"ms/request; full render in {out_dir / (slug + '.txt')})")
    say("    self time by library:")
    for name, seconds in sorted(categories.items(), key=lambda kv: -kv[1]):
        say(f"    {name:<44}{seconds / requests * 1000:7.3f} ms/request  {seconds / total * 100:5.1f} %")
    say("    top 20 functions by self time:")
    for name, seconds in sorted(functions.items(), key=lambda kv: -kv[1])[:20]:
        say(f"      {seconds / requests * 1000:7.3f} ms/request  {seconds / total * 100:5.1f} %  {name}")
    say("    inclusive time of our functions (top 15):")
    for name, seconds in sorted(ours.items(), key=lambda kv: -kv[1])[:15]:
        say(f"      {seconds / requests * 1000:7.3f} ms/request  {seconds / total * 100:5.1f} %  {name}")


class DbTimer:
    """Wall time with at least one database call in flight (the union of overlapping calls):
    Tortoise's client methods execute_*, and transaction begin/commit/rollback, patched on the
    SQLite and asyncpg client classes for the block. That is SQL, the driver, and on SQLite the
    hand-off to aiosqlite's thread; everything else is the framework and our code."""

    METHODS = ("execute_insert", "execute_many", "execute_query", "execute_query_dict", "execute_script",
               "begin", "commit", "rollback")

    def __init__(self) -> None:
        self.active = 0
        self.started = 0.0
        self.total = 0.0
        self.calls = 0
        self._saved: list[tuple[type, str, object]] = []

    def _wrap(self, method):
        timer = self

        async def wrapper(*args, **kwargs):
            if timer.active == 0:
                timer.started = time.perf_counter()
            timer.active += 1
            timer.calls += 1
            try:
                return await method(*args, **kwargs)
            finally:
                timer.active -= 1
                if timer.active == 0:
                    timer.total += time.perf_counter() - timer.started

        return wrapper

    def __enter__(self) -> Self:
        from stepwise.models.db.sqlite_transaction import ImmediateTransactionWrapper
        from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper
        from tortoise.backends.sqlite.client import (
            SqliteClient,
            SqliteTransactionWrapper,
        )

        for cls in (SqliteClient, SqliteTransactionWrapper, ImmediateTransactionWrapper, AsyncpgDBClient, TransactionWrapper):
            for name in self.METHODS:
                if name in cls.__dict__:
                    original = cls.__dict__[name]
                    self._saved.append((cls, name, original))
                    setattr(cls, name, self._wrap(original))
        return self

    def __exit__(self, *exc) -> None:
        for cls, name, original in reversed(self._saved):
            setattr(cls, name, original)
        self._saved.clear()


async def db_share(label: str, requests: int, run_one) -> dict[str, float]:
    """Runs `await run_one()` `requests` times (no profiler) and prints, per request, the wall
    time, this process's CPU time, and the wall time inside database calls (DbTimer)."""
    import resource

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    with DbTimer() as timer:
        cpu_before, started = cpu(), time.perf_counter()
        for _ in range(requests):
            await run_one()
        wall, used = time.perf_counter() - started, cpu() - cpu_before
    figures = {"wall_ms": wall / requests * 1000, "cpu_ms": used / requests * 1000,
               "db_ms": timer.total / requests * 1000, "db_calls": timer.calls / requests}
    say(f"--- DB share: {label} ({requests} requests, no profiler): wall {figures['wall_ms']:.2f} ms/request, "
        f"process CPU {figures['cpu_ms']:.2f} ms/request, inside DB calls {figures['db_ms']:.2f} ms/request "
        f"({figures['db_ms'] / figures['wall_ms'] * 100:.0f} % of wall; {figures['db_calls']:.1f} calls incl. "
        f"begin/commit), the rest {figures['wall_ms'] - figures['db_ms']:.2f} ms (client + ASGI + GraphQL + our code)")
    return figures
