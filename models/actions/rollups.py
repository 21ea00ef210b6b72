"""The writes that keep models/db/rollups.py in step with what they summarise, as statements for
the caller's transaction (transitions, addAssets), and the set-based rebuilds (migration 0006,
benchmarks that write raw rows). Each rebuild statement computes the same figures from scratch.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence

from stepwise.models.actions.task_writes import TaskEventRow
from stepwise.models.db.rollups import BIN_COLUMNS, DURATION_BINS
from stepwise.models.workflow import EventKind

COMPLETION_KINDS = (EventKind.SUBMITTED, EventKind.SENT_TO_REWORK, EventKind.SKIPPED)
# Lower bounds of bins 1 ... 80: a duration d falls in bin bisect_right(DURATION_BOUNDS, d).
DURATION_BOUNDS = tuple(2 ** (k / 4) for k in range(DURATION_BINS - 1))
HOUR = 3_600
_KEY = ("campaign_id", "hour", "step_id", "actor_id", "kind")
_SUMS = ("n", "measured", "total_seconds")


def duration_bin(seconds: float) -> int:
    """The histogram bin of a duration (see models/db/rollups.py)."""
    return bisect_right(DURATION_BOUNDS, seconds)


def bin_bounds(index: int) -> tuple[float, float | None]:
    """[lower, upper) of a bin in seconds; upper None for the last (open) bin."""
    lower = 0.0 if index == 0 else DURATION_BOUNDS[index - 1]
    return lower, DURATION_BOUNDS[index] if index < len(DURATION_BOUNDS) else None


def bin_case(column: str) -> str:
    """SQL for the bin of `column` (NULL: -1), the same thresholds as duration_bin()."""
    steps = " ".join(f"WHEN {column} < {bound!r} THEN {k}" for k, bound in enumerate(DURATION_BOUNDS))
    return f"CASE WHEN {column} IS NULL THEN -1 {steps} ELSE {DURATION_BINS - 1} END"


def hour_of_epoch(epoch_seconds: float) -> int:
    return int(epoch_seconds // HOUR) * HOUR


def _min_max_update(table: str) -> str:
    return (f"min_seconds = CASE WHEN excluded.min_seconds IS NULL OR {table}.min_seconds <= excluded.min_seconds"
            f" THEN {table}.min_seconds ELSE excluded.min_seconds END,"
            f" max_seconds = CASE WHEN excluded.max_seconds IS NULL OR {table}.max_seconds >= excluded.max_seconds"
            f" THEN {table}.max_seconds ELSE excluded.max_seconds END")


# The completion rollups: (table, time column, its width in seconds).
HOURLY = ("completion_rollup", "hour", HOUR)
DAILY = ("completion_day_rollup", "day", 86_400)
COMPLETION_COLUMNS = (*_KEY, *_SUMS, "min_seconds", "max_seconds", *BIN_COLUMNS)


def _upsert_completions(table: str, column: str) -> str:
    columns = [column if c == "hour" else c for c in COMPLETION_COLUMNS]
    key = [column if c == "hour" else c for c in _KEY]
    return (f"INSERT INTO {table} ({', '.join(columns)}) {{source}}"
            f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET "
            + ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in (*_SUMS, *BIN_COLUMNS))
            + ", " + _min_max_update(table))


_UPSERTS = {table: _upsert_completions(table, column) for table, column, _ in (HOURLY, DAILY)}


def completion_rollup_writes(events: Sequence[TaskEventRow]) -> list[tuple[str, list]]:
    """The UPSERTs adding these events' completions to their hour and their day (none when no
    event is a completion): one statement per rollup, one row per (campaign, hour or day, step,
    worker, kind)."""
    writes = []
    for table, _, width in (HOURLY, DAILY):
        rows: dict[tuple, list] = {}
        for e in events:
            if e.kind not in COMPLETION_KINDS:
                continue
            key = (e.campaign_id, int(e.at.timestamp() // width) * width, e.step_id, e.actor_id, e.kind.value)
            row = rows.setdefault(key, [0, 0, 0.0, None, None, [0] * DURATION_BINS])
            row[0] += 1
            d = e.duration_seconds
            if d is not None:
                row[1] += 1
                row[2] += d
                row[3] = d if row[3] is None else min(row[3], d)
                row[4] = d if row[4] is None else max(row[4], d)
                row[5][duration_bin(d)] += 1
        if not rows:
            return []
        marks = "(" + ", ".join("?" * len(COMPLETION_COLUMNS)) + ")"
        params = [v for key, (n, measured, total, low, high, bins) in rows.items()
                  for v in (*key, n, measured, total, low, high, *bins)]
        writes.append((_UPSERTS[table].format(source="VALUES " + ", ".join([marks] * len(rows))), params))
    return writes


def _epoch_floor(column: str, width: int, postgres: bool) -> str:
    epoch = (f"CAST(FLOOR(EXTRACT(EPOCH FROM {column})) AS BIGINT)" if postgres
             else f"CAST(strftime('%s', {column}) AS INTEGER)")
    return f"({epoch} / {width}) * {width}"


def completion_rebuild(postgres: bool, campaign_id: int | None = None) -> list[tuple[str, list]]:
    """Statements that recompute both completion rollups from task_event (one campaign, or all)."""
    where, params = ("WHERE campaign_id = ?", [campaign_id]) if campaign_id is not None else ("", [])
    kinds = ", ".join(f"'{k.value}'" for k in COMPLETION_KINDS)
    # Events grouped by (time, step, worker, kind, bin) first, so that the bin of an event is
    # computed once (a GROUP BY subquery is not flattened), then spread into the bin columns.
    bins = ", ".join(f"SUM(CASE WHEN b = {k} THEN c ELSE 0 END)" for k in range(DURATION_BINS))
    statements = []
    for table, _, width in (HOURLY, DAILY):
        source = (f"SELECT campaign_id, t, step_id, actor_id, kind, SUM(c), SUM(CASE WHEN b >= 0 THEN c ELSE 0 END),"
                  f" COALESCE(SUM(total), 0), MIN(low), MAX(high), {bins}"
                  f" FROM (SELECT campaign_id, t, step_id, actor_id, kind, b, COUNT(*) AS c, SUM(d) AS total,"
                  f" MIN(d) AS low, MAX(d) AS high FROM (SELECT campaign_id, {_epoch_floor('at', width, postgres)} AS t,"
                  f" step_id, actor_id, kind, duration_seconds AS d, {bin_case('duration_seconds')} AS b FROM task_event"
                  f" WHERE kind IN ({kinds}) {where.replace('WHERE', 'AND')}) e"
                  f" GROUP BY campaign_id, t, step_id, actor_id, kind, b) g"
                  f" WHERE true GROUP BY campaign_id, t, step_id, actor_id, kind")
        statements += [(f"DELETE FROM {table} {where}", params), (_UPSERTS[table].format(source=source), params)]
    return statements


# Quality: the shapes of the selected assets (alias a), one row per shape with its label and
# area (-1 for a shape without one: points, lines), grouped into counts.
_SQLITE_SHAPES = """shapes AS (
  SELECT a.version_id, a.id AS asset_id, s.key AS shape_key, COALESCE(json_extract(s.value, '$.label'), 0) AS label,
         json_extract(s.value, '$.kind') AS kind, json_extract(s.value, '$.points') AS points
  FROM asset a, json_each(a.annotation) s WHERE {where} AND a.annotation IS NOT NULL),
per_shape AS MATERIALIZED (
  SELECT version_id, label, CASE WHEN kind = 'RECTANGLE'
      THEN CAST(ABS(json_extract(points, '$[1][0]') - json_extract(points, '$[0][0]'))
              * ABS(json_extract(points, '$[1][1]') - json_extract(points, '$[0][1]')) AS REAL) ELSE -1.0 END AS x
  FROM shapes WHERE kind IS NOT 'POLYGON'
  UNION ALL
  SELECT sh.version_id, sh.label,
         ABS(SUM(json_extract(p.value, '$[0]') * json_extract(sh.points, '$[' || ((p.key + 1) % n) || '][1]')
               - json_extract(sh.points, '$[' || ((p.key + 1) % n) || '][0]') * json_extract(p.value, '$[1]'))) / 2.0
  FROM (SELECT version_id, label, asset_id, shape_key, points, json_array_length(points) AS n FROM shapes
        WHERE kind = 'POLYGON') sh, json_each(sh.points) p
  GROUP BY sh.version_id, sh.label, sh.asset_id, sh.shape_key)"""
_PG_SHAPES = """shapes AS (
  SELECT a.version_id, a.id AS asset_id, s.ord AS shape_key, COALESCE((s.value->>'label')::int, 0) AS label,
         s.value->>'kind' AS kind, s.value->'points' AS points
  FROM asset a CROSS JOIN LATERAL jsonb_array_elements(a.annotation) WITH ORDINALITY AS s(value, ord)
  WHERE {where} AND a.annotation IS NOT NULL),
per_shape AS MATERIALIZED (
  SELECT version_id, label, CASE WHEN kind = 'RECTANGLE'
      THEN ABS((points->1->>0)::float8 - (points->0->>0)::float8) * ABS((points->1->>1)::float8 - (points->0->>1)::float8)
      ELSE -1.0 END AS x
  FROM shapes WHERE kind IS DISTINCT FROM 'POLYGON'
  UNION ALL
  SELECT sh.version_id, sh.label,
         ABS(SUM((p.value->>0)::float8 * (sh.points->(p.ord % sh.n)::int->>1)::float8
               - (sh.points->(p.ord % sh.n)::int->>0)::float8 * (p.value->>1)::float8)) / 2.0
  FROM (SELECT version_id, label, asset_id, shape_key, points, jsonb_array_length(points) AS n FROM shapes
        WHERE kind = 'POLYGON') sh
       CROSS JOIN LATERAL jsonb_array_elements(sh.points) WITH ORDINALITY AS p(value, ord)
  GROUP BY sh.version_id, sh.label, sh.asset_id, sh.shape_key)"""


# Areas are counted at three significant digits (at most 0.5 % off; whole areas under 1,000
# exact), so that a version holds at most 900 area rows per decade and label, however many shapes:
# an import of 300,000 boxes upserts about 11,000 rows instead of 300,000. docs/analytics.md.
AREA_DIGITS = 3
_LOWEST_DECADE, _HIGHEST_DECADE = -3, 18  # below 10^-3 one absolute step; from 10^18 one step too


def _scaled(x: str, exponent: int, postgres: bool) -> str:
    """x rounded (half up, x >= 0) to a multiple of 10^exponent: an integer count of steps times
    the step, or divided by 10^-exponent (exact for the decimal it stands for)."""
    steps = (f"FLOOR({x} * 1e{-exponent} + 0.5)" if exponent < 0 else f"FLOOR({x} / 1e{exponent} + 0.5)") if postgres \
        else (f"CAST({x} * 1e{-exponent} + 0.5 AS INTEGER)" if exponent < 0 else f"CAST({x} / 1e{exponent} + 0.5 AS INTEGER)")
    return f"{steps} / 1e{-exponent}" if exponent < 0 else f"{steps} * 1e{exponent}"


def kept_area(x: str, postgres: bool) -> str:
    """SQL of the area x (a column: it is read once per decade tried) at AREA_DIGITS significant
    digits; a negative x (no area) stays as it is. The same on every writer and in migration 0010."""
    real = "float8" if postgres else "REAL"
    cases = [f"WHEN {x} < 0 THEN {x}",
             f"WHEN {x} < 1e{_LOWEST_DECADE} THEN {_scaled(x, _LOWEST_DECADE - AREA_DIGITS, postgres)}"]
    cases += [f"WHEN {x} < 1e{d + 1} THEN {_scaled(x, d - AREA_DIGITS + 1, postgres)}"
              for d in range(_LOWEST_DECADE, _HIGHEST_DECADE)]
    return f"CAST(CASE {' '.join(cases)} ELSE {_scaled(x, _HIGHEST_DECADE - AREA_DIGITS + 1, postgres)} END AS {real})"


# kept_area in Python: the decade's lower bounds (the SQL's literals, as floats) and, per decade,
# the power of ten x is multiplied or divided by, in the same float64 operations as _scaled.
_DECADES = tuple(float(f"1e{d}") for d in range(_LOWEST_DECADE, _HIGHEST_DECADE + 1))
_SCALES = tuple((exponent < 0, float(f"1e{abs(exponent)}")) for exponent in
                [_LOWEST_DECADE - AREA_DIGITS, *(d - AREA_DIGITS + 1 for d in range(_LOWEST_DECADE, _HIGHEST_DECADE + 1))])


def kept_area_value(x: float) -> float:
    """kept_area computed in Python: equal to the SQL's result for the same float."""
    if x < 0:
        return x
    below_one, scale = _SCALES[bisect_right(_DECADES, x)]
    return math.floor(x * scale + 0.5) / scale if below_one else math.floor(x / scale + 0.5) * scale


# (kind, label, kept value) -> n, and the indexes of the assets left to quality_counts_write
QualityCounts = tuple[dict[tuple[str, int, float], int], list[int]]


def quality_counts_of(assets: Iterable[tuple[int, int, list[dict] | None]]) -> QualityCounts:
    """The quality counts that quality_counts_write(asset_areas=True, sign 1) would add for these
    (width, height, shapes as stored) assets, counted in Python from shapes already in memory (an
    import), and the indexes of the assets it leaves to that statement: those with a POLYGON,
    whose shoelace sum SQL adds in its own order. A RECTANGLE's area is the same two subtractions
    and one product as the SQL's, so the same float."""
    keys: list[tuple[str, int, float]] = []  # one per count, counted at the end (Counter's loop is C)
    left: list[int] = []
    append, kept = keys.append, kept_area_value
    image_areas: dict[tuple[int, int], tuple[str, int, float]] = {}  # most files have a few sizes
    for index, (width, height, shapes) in enumerate(assets):
        if shapes is not None:
            found = []
            for shape in shapes:
                kind = shape["kind"]
                if kind == "RECTANGLE":
                    (x1, y1), (x2, y2) = shape["points"]
                    area = kept(float(abs(x2 - x1) * abs(y2 - y1)))
                elif kind == "POLYGON":
                    break
                else:
                    area = -1.0
                found.append(("SHAPE", shape.get("label") or 0, area))
            else:
                keys += found
                append(("SHAPE_COUNT", 0, float(len(shapes))))
                shapes = None  # counted: its area below
        if shapes is not None:
            left.append(index)
            continue
        key = image_areas.get((width, height))
        if key is None:
            key = image_areas[width, height] = ("ASSET_AREA", 0, kept(float(width * height)))
        append(key)
    return dict(Counter(keys)), left


_QUALITY_CONFLICT = "ON CONFLICT (version_id, kind, label_id, value) DO UPDATE SET n = quality_value_count.n + excluded.n"
# Counts from quality_counts_of: rows (version, kind, label, value, n) for an executemany on
# SQLite; on PostgreSQL one statement over the columns (quality_count_columns).
QUALITY_COUNT_UPSERT = ("INSERT INTO quality_value_count (version_id, kind, label_id, value, n) VALUES (?, ?, ?, ?, ?)"
                        f" {_QUALITY_CONFLICT}")
POSTGRES_QUALITY_COUNT_UPSERT = (
    "INSERT INTO quality_value_count (version_id, kind, label_id, value, n) SELECT ?, k, l, v, n"
    f" FROM unnest(?::text[], ?::int[], ?::float8[], ?::int[]) AS t(k, l, v, n) WHERE true {_QUALITY_CONFLICT}")


def quality_count_columns(counts: dict[tuple[str, int, float], int]) -> list[list]:
    """kinds, labels, values, counts: POSTGRES_QUALITY_COUNT_UPSERT's arrays."""
    return [[key[0] for key in counts], [key[1] for key in counts], [key[2] for key in counts], list(counts.values())]


def quality_counts_write(postgres: bool, where: str, params: Sequence, sign: int,
                         *, asset_areas: bool = False) -> tuple[str, list]:
    """The UPSERT adding (sign 1) or taking away (sign -1) the shapes and shape counts of the
    assets `where` selects (SQL on alias a), and their areas with `asset_areas`: one statement."""
    shapes = (_PG_SHAPES if postgres else _SQLITE_SHAPES).format(where=where)
    length = "jsonb_array_length" if postgres else "json_array_length"
    real = "float8" if postgres else "REAL"
    parts = [f"SELECT version_id, 'SHAPE' AS kind, label, {kept_area('x', postgres)} AS v, {sign} * COUNT(*) AS n"
             f" FROM per_shape GROUP BY version_id, label, v",
             f"SELECT a.version_id, 'SHAPE_COUNT', 0, CAST({length}(a.annotation) AS {real}), {sign} * COUNT(*)"
             f" FROM asset a WHERE {where} AND a.annotation IS NOT NULL GROUP BY a.version_id, 4"]
    all_params = [*params, *params]
    if asset_areas:
        parts.append(f"SELECT version_id, 'ASSET_AREA', 0, {kept_area('x', postgres)} AS v, {sign} * COUNT(*)"
                     f" FROM (SELECT a.version_id, CAST(a.width * a.height AS {real}) AS x FROM asset a WHERE {where}) AS s"
                     f" GROUP BY version_id, v")
        all_params += list(params)
    union = " UNION ALL ".join(parts)
    return (f"WITH {shapes} INSERT INTO quality_value_count (version_id, kind, label_id, value, n)"
            f" SELECT * FROM ({union}) AS counted WHERE true"
            f" ON CONFLICT (version_id, kind, label_id, value) DO UPDATE SET n = quality_value_count.n + excluded.n",
            all_params)


def quality_rebuild(postgres: bool, version_id: int | None = None) -> list[tuple[str, list]]:
    """Statements that recompute quality_value_count from the assets (one version, or all)."""
    if version_id is None:
        return [("DELETE FROM quality_value_count", []),
                quality_counts_write(postgres, "1 = 1", [], 1, asset_areas=True)]
    return [("DELETE FROM quality_value_count WHERE version_id = ?", [version_id]),
            quality_counts_write(postgres, "a.version_id = ?", [version_id], 1, asset_areas=True)]


# Task counts (models/db/rollups.py TaskCount): key (campaign, status, step or 0, assignee or 0).
_UPSERT_TASK_COUNTS = ("INSERT INTO task_count (campaign_id, status, step_id, assignee_id, n, submits) {source}"
                       " ON CONFLICT (campaign_id, status, step_id, assignee_id) DO UPDATE SET"
                       " n = task_count.n + excluded.n, submits = task_count.submits + excluded.submits")


def task_count_key(campaign_id: int, status, step_id: int | None, assignee_id: int | None) -> tuple:
    return (campaign_id, getattr(status, "value", status), step_id or 0, assignee_id or 0)


def task_count_write(moves: dict[tuple, list[int]]) -> tuple[str, list] | None:
    """The UPSERT adding {key: [tasks, submits]} to the counts (negative: tasks leaving a key), in
    key order, so that concurrent transactions lock the counter rows in one order (no deadlock).
    None when nothing changes."""
    rows = sorted((key, n, submits) for key, (n, submits) in moves.items() if n or submits)
    if not rows:
        return None
    params = [v for key, n, submits in rows for v in (*key, n, submits)]
    return _UPSERT_TASK_COUNTS.format(source="VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(rows))), params


def task_moves(moves: list[tuple[tuple, tuple, int]]) -> dict[tuple, list[int]]:
    """Tasks moving from one key to another (old key, new key, submits added): the count changes."""
    changes: dict[tuple, list[int]] = {}
    for old, new, submits in moves:
        changes.setdefault(old, [0, 0])[0] -= 1
        slot = changes.setdefault(new, [0, 0])
        slot[0] += 1
        slot[1] += submits
    return changes


def task_count_insert(where: str, params: Sequence) -> tuple[str, list]:
    """The UPSERT counting the tasks `where` selects (SQL on table task), set-based: a rebuild's.
    (A launch and new assets' tasks count their keys while attributing: task_count_write.)"""
    source = ("SELECT campaign_id, status, COALESCE(step_id, 0), COALESCE(assignee_id, 0), COUNT(*),"
              f" COALESCE(SUM(submit_count), 0) FROM task WHERE {where}"
              " GROUP BY campaign_id, status, COALESCE(step_id, 0), COALESCE(assignee_id, 0)")
    return _UPSERT_TASK_COUNTS.format(source=source), list(params)


def task_count_rebuild(campaign_id: int | None = None) -> list[tuple[str, list]]:
    """Statements that recompute task_count from the tasks (one campaign, or all)."""
    if campaign_id is None:
        return [("DELETE FROM task_count", []), task_count_insert("1 = 1", [])]
    return [("DELETE FROM task_count WHERE campaign_id = ?", [campaign_id]),
            task_count_insert("campaign_id = ?", [campaign_id])]
