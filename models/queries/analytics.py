"""Campaign analytics counted in the database: grouped aggregates per UTC time bucket.

Every statement returns rows bounded by steps × workers × kinds × buckets, never by tasks or
events: the counting, summing and ranking happen in SQL (RULES.md, "Progress and analytics").
Completions are read from their daily rollup (models/db/rollups.py) for the whole UTC days of
the range (HOUR buckets: hours), from the hourly one for the whole hours around them, and from
the events themselves for the parts of an hour at its edges, so [from, to) stays exact. Campaign-wide scans run through `sql.fetch_scan` (off the event loop on SQLite).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from math import sqrt

from stepwise.models.actions.rollups import DURATION_BINS, HOUR, bin_bounds, bin_case, hour_of_epoch
from stepwise.models.db import sql
from stepwise.models.db.rollups import BIN_COLUMNS
from stepwise.models.errors import BadRequest
from stepwise.models.workflow import EventKind, StepType, TaskStatus

# Bucket width in seconds, and where buckets start relative to the Unix epoch (a Thursday):
# weeks start on Mondays, 1970-01-05 00:00 UTC being the first.
BUCKET_SECONDS = {"HOUR": 3_600, "DAY": 86_400, "WEEK": 604_800}
BUCKET_OFFSET = {"HOUR": 0, "DAY": 0, "WEEK": 345_600}
MAX_BUCKETS = 10_000
DAY = 86_400
COMPLETIONS = (EventKind.SUBMITTED, EventKind.SENT_TO_REWORK, EventKind.SKIPPED)
ACTIVE_STATUSES = (TaskStatus.IN_PROGRESS, TaskStatus.TO_REWORK)
# Up to this many durations, p50/p95 are ranked exactly from the events; beyond, read from the
# rollup's duration bins (a bin spans a factor 2^(1/4); see percentiles()).
EXACT_PERCENTILES_UP_TO = 5_000


@dataclass(frozen=True)
class AnalyticsFilter:
    """What `Campaign.analytics` narrows to: [start, end) in UTC, a step, a worker, a bucket width."""

    campaign_id: int
    start: datetime | None = None
    end: datetime | None = None
    step_id: int | None = None
    assignee_id: int | None = None
    granularity: str = "DAY"


@dataclass
class Durations:
    """Aggregates of step-visit durations (see `percentiles` for p50 and p95)."""

    count: int = 0
    total: float = 0.0
    minimum: float | None = None
    maximum: float | None = None

    def add(self, count: int, total: float, minimum: float | None, maximum: float | None) -> None:
        """Merge one group's aggregates (already computed in SQL) into these."""
        self.count += count
        self.total += total or 0.0
        if minimum is not None:
            self.minimum = minimum if self.minimum is None else min(self.minimum, minimum)
        if maximum is not None:
            self.maximum = maximum if self.maximum is None else max(self.maximum, maximum)


@dataclass
class Efficiency:
    """Completions (submit, rework, skip) in range: all, at ANNOTATION steps, at REVIEW steps."""

    all: Durations = field(default_factory=Durations)
    by_type: dict[StepType, Durations] = field(default_factory=lambda: {t: Durations() for t in StepType})
    # bucket start (epoch seconds) -> [count, total seconds], per step type
    buckets: dict[StepType, dict[int, list]] = field(default_factory=lambda: {t: {} for t in StepType})
    # SUBMITTED events per bucket, per step type
    submissions: dict[StepType, dict[int, int]] = field(default_factory=lambda: {t: {} for t in StepType})


def _epoch(column: str) -> str:
    """The column as whole seconds since the epoch, floored, on either backend."""
    if sql.is_postgres(sql.current_connection()):
        return f"CAST(FLOOR(EXTRACT(EPOCH FROM {column})) AS BIGINT)"
    return f"CAST(strftime('%s', {column}) AS INTEGER)"


def bucket_expression(column: str, granularity: str) -> str:
    """SQL for the start (epoch seconds) of the UTC-aligned bucket holding `column`. Integer
    division truncates on both backends; the values are after 1970, so it floors."""
    width, offset = BUCKET_SECONDS[granularity], BUCKET_OFFSET[granularity]
    return f"((({_epoch(column)}) - {offset}) / {width}) * {width} + {offset}"


def bucket_start(moment: datetime, granularity: str) -> int:
    """The epoch second where the bucket holding `moment` starts."""
    width, offset = BUCKET_SECONDS[granularity], BUCKET_OFFSET[granularity]
    seconds = int(moment.timestamp() // 1)
    return (seconds - offset) // width * width + offset


def bucket_starts(query: AnalyticsFilter, seen: set[int]) -> list[int]:
    """Every bucket to show: those meeting [start, end) when a range is given, else from the first
    to the last bucket holding data. Empty buckets in between are listed too."""
    width = BUCKET_SECONDS[query.granularity]
    if query.start is not None and query.end is not None:
        first = bucket_start(query.start, query.granularity)
        last = bucket_start(query.end - timedelta(microseconds=1), query.granularity)
    elif seen:
        first, last = min(seen), max(seen)
    else:
        return []
    if (last - first) // width + 1 > MAX_BUCKETS:
        raise BadRequest(f"At most {MAX_BUCKETS} buckets: choose a shorter range or a wider granularity.")
    return list(range(first, last + 1, width))


def as_datetime(epoch_seconds: int) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, UTC)


def time_param(moment: datetime):
    """A datetime parameter compared with stored ones: SQLite keeps them as UTC ISO text (the
    form its adapter writes), so text order is time order; PostgreSQL compares timestamps."""
    moment = moment.astimezone(UTC)
    return moment if sql.is_postgres(sql.current_connection()) else moment.isoformat(" ")


def _window(column: str, query: AnalyticsFilter) -> tuple[list[str], list]:
    clauses, params = [], []
    if query.start is not None:
        clauses.append(f"{column} >= ?")
        params.append(time_param(query.start))
    if query.end is not None:
        clauses.append(f"{column} < ?")
        params.append(time_param(query.end))
    return clauses, params


def _completion_where(query: AnalyticsFilter) -> tuple[str, list]:
    kinds = ", ".join(f"'{k.value}'" for k in COMPLETIONS)
    clauses, params = ["e.campaign_id = ?", f"e.kind IN ({kinds})"], [query.campaign_id]
    window, window_params = _window("e.at", query)
    clauses += window
    params += window_params
    if query.step_id is not None:
        clauses.append("e.step_id = ?")
        params.append(query.step_id)
    if query.assignee_id is not None:
        clauses.append("e.actor_id = ?")  # who did the work (the event's assignee is the next holder)
        params.append(query.assignee_id)
    return " AND ".join(clauses), params


def completions_statement(query: AnalyticsFilter) -> tuple[str, list]:
    """Completions grouped by kind, step and bucket: counts and duration aggregates."""
    where, params = _completion_where(query)
    bucket = bucket_expression("e.at", query.granularity)
    return (f"SELECT e.kind, e.step_id, {bucket} AS bucket, COUNT(*), SUM(e.duration_seconds),"
            f" MIN(e.duration_seconds), MAX(e.duration_seconds), COUNT(e.duration_seconds)"
            f" FROM task_event e WHERE {where} GROUP BY e.kind, e.step_id, bucket", params)


def percentiles_statement(query: AnalyticsFilter, annotation_step_ids: list[int]) -> tuple[str, list]:
    """The nearest-rank p50 and p95 durations, of all completions and per step type, ranked with
    window functions: at most six rows come back whatever the number of events."""
    where, params = _completion_where(query)
    is_annotation = (f"CASE WHEN e.step_id IN ({', '.join('?' * len(annotation_step_ids))}) THEN 1 ELSE 0 END"
                     if annotation_step_ids else "0")
    return (f"""WITH d AS (SELECT e.duration_seconds AS v, {is_annotation} AS t FROM task_event e
                WHERE {where} AND e.duration_seconds IS NOT NULL),
            r AS (SELECT v, t, ROW_NUMBER() OVER (ORDER BY v) AS rn_all, COUNT(*) OVER () AS n_all,
                  ROW_NUMBER() OVER (PARTITION BY t ORDER BY v) AS rn_t, COUNT(*) OVER (PARTITION BY t) AS n_t FROM d)
            SELECT t, v, rn_all, n_all, rn_t, n_t FROM r
            WHERE rn_all IN ((n_all + 1) / 2, (n_all * 95 + 99) / 100)
               OR rn_t IN ((n_t + 1) / 2, (n_t * 95 + 99) / 100)""",
            [*annotation_step_ids, *params])


def _rank(n: int, percent: int) -> int:
    """The 1-based nearest rank of the `percent`th percentile among n values: ceil(n × p / 100)."""
    return (n * percent + 99) // 100


def split_by_hours(query: AnalyticsFilter) -> tuple[tuple[int | None, int | None] | None, list[AnalyticsFilter]]:
    """The whole UTC hours [first, last) of the range, read from the rollup (None when it holds
    none), and the filters of the parts of an hour at its edges, read from the events."""
    first = None
    if query.start is not None:  # the first hour starting at or after `start`
        first = hour_of_epoch(query.start.timestamp())
        first += 0 if first == query.start.timestamp() else HOUR
    last = None if query.end is None else hour_of_epoch(query.end.timestamp())
    if first is not None and last is not None and first >= last:
        return None, [query]
    edges = []
    if query.start is not None and first != query.start.timestamp():
        edges.append(replace(query, end=as_datetime(first)))
    if query.end is not None and last != query.end.timestamp():
        edges.append(replace(query, start=as_datetime(last)))
    return (first, last), edges


def split_hours_by_days(hours: tuple[int | None, int | None]) -> tuple[tuple[int | None, int | None] | None,
                                                                      list[tuple[int | None, int | None]]]:
    """The whole UTC days [first, last) of an hour window (None when it holds none), read from the
    daily rollup, and the hour windows around them, read from the hourly one."""
    first, last = hours
    first_day = None if first is None else -(-first // DAY) * DAY
    last_day = None if last is None else last // DAY * DAY
    if first_day is not None and last_day is not None and first_day >= last_day:
        return None, [hours]
    parts = []
    if first is not None and first != first_day:
        parts.append((first, first_day))
    if last is not None and last != last_day:
        parts.append((last_day, last))
    return (first_day, last_day), parts


def rollup_windows(query: AnalyticsFilter, hours: tuple[int | None, int | None], *,
                   by_hour: bool) -> list[tuple[str, str, tuple[int | None, int | None]]]:
    """(table, time column, window) to read: whole days from the daily rollup unless `by_hour`
    (HOUR buckets), the hours around them from the hourly one."""
    if by_hour:
        return [("completion_rollup", "hour", hours)]
    days, parts = split_hours_by_days(hours)
    return ([("completion_day_rollup", "day", days)] if days is not None else []) + \
        [("completion_rollup", "hour", part) for part in parts]


def _rollup_where(query: AnalyticsFilter, hours: tuple[int | None, int | None],
                  column: str = "hour") -> tuple[str, list]:
    clauses, params = ["campaign_id = ?"], [query.campaign_id]
    for bound, op in zip(hours, (">=", "<"), strict=True):
        if bound is not None:
            clauses.append(f"{column} {op} ?")
            params.append(bound)
    for column, value in (("step_id", query.step_id), ("actor_id", query.assignee_id)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    return " AND ".join(clauses), params


def rollup_completions_statement(query: AnalyticsFilter, window: tuple[int | None, int | None],
                                 table: str = "completion_rollup", column: str = "hour") -> tuple[str, list]:
    """completions_statement's rows, from a rollup (a bucket is a whole number of its hours or days)."""
    where, params = _rollup_where(query, window, column)
    width, offset = BUCKET_SECONDS[query.granularity], BUCKET_OFFSET[query.granularity]
    return (f"SELECT kind, step_id, (({column} - {offset}) / {width}) * {width} + {offset} AS bucket, SUM(n),"
            f" SUM(total_seconds), MIN(min_seconds), MAX(max_seconds), SUM(measured)"
            f" FROM {table} WHERE {where} GROUP BY kind, step_id, bucket", params)


async def efficiency(query: AnalyticsFilter, step_types: dict[int, StepType]) -> Efficiency:
    """Durations and submissions of the campaign's completions: one grouped statement on the
    rollup, and one on the events for each edge of the range inside an hour."""
    hours, edges = split_by_hours(query)
    statements = [completions_statement(edge) for edge in edges]
    if hours is not None:
        statements[:0] = [rollup_completions_statement(query, window, table, column) for table, column, window
                          in rollup_windows(query, hours, by_hour=query.granularity == "HOUR")]
    result = Efficiency()
    for statement in statements:
        for kind, step_id, bucket, count, total, minimum, maximum, measured in await sql.fetch_scan(*statement):
            _add_completions(result, step_types, kind, step_id, bucket, count, total, minimum, maximum, measured)
    return result


def _add_completions(result: Efficiency, step_types: dict[int, StepType], kind, step_id, bucket, count, total,
                     minimum, maximum, measured) -> None:
    step_type = step_types.get(step_id)
    if kind == EventKind.SUBMITTED and step_type is not None:
        per_bucket = result.submissions[step_type]
        per_bucket[bucket] = per_bucket.get(bucket, 0) + count
    if not measured:
        return
    result.all.add(measured, total, minimum, maximum)
    if step_type is not None:
        result.by_type[step_type].add(measured, total, minimum, maximum)
        slot = result.buckets[step_type].setdefault(bucket, [0, 0.0])
        slot[0] += measured
        slot[1] += total


async def percentiles(query: AnalyticsFilter, step_types: dict[int, StepType],
                      figures: Efficiency | None = None) -> dict[str, tuple]:
    """The nearest-rank (p50, p95) of the completions' durations: key "ALL" and each step type
    that has any. Up to EXACT_PERCENTILES_UP_TO durations (or without `figures`): exact, one
    statement ranking the events. Beyond: to the bin, from the summed bins of the rollup."""
    if figures is not None and figures.all.count > EXACT_PERCENTILES_UP_TO:
        return await binned_percentiles(query, step_types, figures)
    found: dict[str, list] = {}
    annotation_steps = [s for s, t in step_types.items() if t is StepType.ANNOTATION]
    for is_annotation, value, rn_all, n_all, rn_t, n_t in await sql.fetch_scan(
            *percentiles_statement(query, annotation_steps)):
        typed = (StepType.ANNOTATION if is_annotation else StepType.REVIEW).value
        for key, rank, n in (("ALL", rn_all, n_all), (typed, rn_t, n_t)):
            pair = found.setdefault(key, [None, None])
            if rank == _rank(n, 50):
                pair[0] = value
            if rank == _rank(n, 95):
                pair[1] = value
    return {key: tuple(pair) for key, pair in found.items()}


def _is_annotation(column: str, annotation_step_ids: list[int]) -> tuple[str, list]:
    if not annotation_step_ids:
        return "0", []
    return f"CASE WHEN {column} IN ({', '.join('?' * len(annotation_step_ids))}) THEN 1 ELSE 0 END", \
        list(annotation_step_ids)


def binned_statements(query: AnalyticsFilter, annotation_step_ids: list[int]) -> list[tuple[str, list]]:
    """Duration bin counts per step type (1: ANNOTATION, 0: other): from the rollup's whole hours,
    rows (type, count of bin 0, ..., count of the last bin); from the edges' events, rows (type,
    bin, count), at most one per bin (each event's bin computed once)."""
    hours, edges = split_by_hours(query)
    statements = []
    if hours is not None:
        typed, typed_params = _is_annotation("step_id", annotation_step_ids)
        sums = ", ".join(f"SUM({c})" for c in BIN_COLUMNS)
        for table, column, window in rollup_windows(query, hours, by_hour=False):
            where, params = _rollup_where(query, window, column)
            statements.append((f"SELECT {typed} AS t, {sums} FROM {table} WHERE {where} GROUP BY t",
                               [*typed_params, *params]))
    for edge in edges:
        where, params = _completion_where(edge)
        typed, typed_params = _is_annotation("e.step_id", annotation_step_ids)
        statements.append((f"SELECT t, b, COUNT(*) FROM (SELECT {typed} AS t, {bin_case('e.duration_seconds')} AS b"
                           f" FROM task_event e WHERE {where} AND e.duration_seconds IS NOT NULL) d GROUP BY t, b",
                           [*typed_params, *params]))
    return statements


def value_in_bin(index: int, durations: Durations) -> float:
    """What a percentile falling in bin `index` reads: the bin's geometric middle (its middle for
    bin 0), kept within the measured minimum and maximum. Within a factor 2^(1/8) ≈ 1.09 of the
    exact value, and exact when the rank falls on the minimum's or maximum's bin holding one value."""
    lower, upper = bin_bounds(index)
    middle = lower + 0.5 if index == 0 else (sqrt(lower * upper) if upper is not None else lower)
    return min(max(middle, durations.minimum), durations.maximum)


async def binned_percentiles(query: AnalyticsFilter, step_types: dict[int, StepType],
                             figures: Efficiency) -> dict[str, tuple]:
    """(p50, p95) to the bin: the bin counts are summed in SQL (a few rows of DURATION_BINS
    numbers); the nearest rank ⌈p × n⌉ is found walking the cumulative counts."""
    annotation_steps = [s for s, t in step_types.items() if t is StepType.ANNOTATION]
    counts = {StepType.ANNOTATION: [0] * DURATION_BINS, StepType.REVIEW: [0] * DURATION_BINS}
    for statement in binned_statements(query, annotation_steps):
        for row in await sql.fetch_scan(*statement):
            target = counts[StepType.ANNOTATION if row[0] else StepType.REVIEW]
            if len(row) == 3:  # an edge's (type, bin, count)
                target[row[1]] += int(row[2])
                continue
            for k, n in enumerate(row[1:]):
                target[k] += int(n or 0)
    groups = {"ALL": ([a + r for a, r in zip(*counts.values(), strict=True)], figures.all),
              **{t.value: (counts[t], figures.by_type[t]) for t in counts}}
    found = {}
    for key, (bins, durations) in groups.items():
        n = sum(bins)
        if not n:
            continue
        pair = []
        for percent in (50, 95):
            rank, seen = _rank(n, percent), 0
            for k, count in enumerate(bins):
                seen += count
                if seen >= rank:
                    pair.append(value_in_bin(k, durations))
                    break
        found[key] = tuple(pair)
    return found


@dataclass
class IssueFigures:
    created: dict[int, int] = field(default_factory=dict)  # bucket -> issues raised
    by_kind: dict[str, int] = field(default_factory=dict)
    opened: int = 0
    closed: int = 0


def _issue_where(query: AnalyticsFilter, column: str, worker_column: str) -> tuple[list[str], list]:
    clauses, params = ["campaign_id = ?"], [query.campaign_id]
    window, window_params = _window(column, query)
    clauses += window
    params += window_params
    if query.step_id is not None:
        clauses.append("step_id = ?")
        params.append(query.step_id)
    if query.assignee_id is not None:
        clauses.append(f"{worker_column} = ?")
        params.append(query.assignee_id)
    return clauses, params


def issues_raised_statement(query: AnalyticsFilter) -> tuple[str, list]:
    """Issues raised, grouped by kind and bucket; the worker filter is the issue's author."""
    clauses, params = _issue_where(query, "created_at", "author_id")
    bucket = bucket_expression("created_at", query.granularity)
    return (f"SELECT kind, {bucket} AS bucket, COUNT(*) FROM issue WHERE {' AND '.join(clauses)}"
            f" GROUP BY kind, bucket", params)


def issues_resolved_statement(query: AnalyticsFilter) -> tuple[str, list]:
    """Issues resolved in range (and not re-opened since); the worker filter is who resolved them."""
    clauses, params = _issue_where(query, "resolved_at", "resolved_by_id")
    return f"SELECT COUNT(*) FROM issue WHERE {' AND '.join(clauses)} AND status = 'RESOLVED'", params


async def issue_figures(query: AnalyticsFilter) -> IssueFigures:
    """Issues raised (per bucket and kind) and resolved in range: two statements."""
    figures = IssueFigures()
    for kind, bucket, count in await sql.fetch_scan(*issues_raised_statement(query)):
        figures.created[bucket] = figures.created.get(bucket, 0) + count
        figures.by_kind[kind] = figures.by_kind.get(kind, 0) + count
        figures.opened += count
    figures.closed = (await sql.fetch_scan(*issues_resolved_statement(query)))[0][0]
    return figures


async def active_tasks(query: AnalyticsFilter) -> list[tuple[int, int | None, int]]:
    """(step, assignee, count) of the campaign's active tasks now, narrowed by step and worker:
    read from the task counts (models/db/rollups.py TaskCount; 0 stands for no assignee)."""
    statuses = ", ".join(f"'{s.value}'" for s in ACTIVE_STATUSES)
    clauses, params = ["campaign_id = ?", f"status IN ({statuses})"], [query.campaign_id]
    if query.step_id is not None:
        clauses.append("step_id = ?")
        params.append(query.step_id)
    if query.assignee_id is not None:
        clauses.append("assignee_id = ?")
        params.append(query.assignee_id)
    return [(step_id, assignee_id or None, int(count)) for step_id, assignee_id, count in await sql.fetch_scan(
        f"SELECT step_id, assignee_id, SUM(n) FROM task_count WHERE {' AND '.join(clauses)}"
        " GROUP BY step_id, assignee_id HAVING SUM(n) > 0", params)]
