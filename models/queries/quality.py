"""Quality figures of a version's accepted annotations, read from the annotation JSON in SQL.

Shapes are stored as `asset.annotation` = [{"label": id, "kind": k, "points": [[x, y], ...]}]
(models/shapes.py). SQLite walks them with json_each, PostgreSQL with jsonb_array_elements; the
areas (rectangle sides, the shoelace sum of a polygon) and the histogram bins are computed there
too, so every statement returns at most one row per label or per bin.
"""

from __future__ import annotations

from dataclasses import dataclass

from stepwise.models.db import sql
from stepwise.models.errors import BadRequest

MAX_BINS = 100

_SQLITE_SHAPES = """shapes AS (
  SELECT a.id AS asset_id, s.key AS shape_key, json_extract(s.value, '$.label') AS label,
         json_extract(s.value, '$.kind') AS kind, json_extract(s.value, '$.points') AS points
  FROM asset a, json_each(a.annotation) s WHERE a.version_id = ? AND a.annotation IS NOT NULL)"""
_SQLITE_AREAS = """areas AS (
  SELECT ABS(json_extract(points, '$[1][0]') - json_extract(points, '$[0][0]'))
       * ABS(json_extract(points, '$[1][1]') - json_extract(points, '$[0][1]')) AS x
  FROM shapes WHERE kind = 'RECTANGLE'
  UNION ALL
  SELECT ABS(SUM(json_extract(p.value, '$[0]') * json_extract(sh.points, '$[' || ((p.key + 1) % n) || '][1]')
               - json_extract(sh.points, '$[' || ((p.key + 1) % n) || '][0]') * json_extract(p.value, '$[1]'))) / 2.0
  FROM (SELECT asset_id, shape_key, points, json_array_length(points) AS n FROM shapes WHERE kind = 'POLYGON') sh,
       json_each(sh.points) p
  GROUP BY sh.asset_id, sh.shape_key)"""
_PG_SHAPES = """shapes AS (
  SELECT a.id AS asset_id, s.ord AS shape_key, (s.value->>'label')::int AS label, s.value->>'kind' AS kind,
         s.value->'points' AS points
  FROM asset a CROSS JOIN LATERAL jsonb_array_elements(a.annotation) WITH ORDINALITY AS s(value, ord)
  WHERE a.version_id = ? AND a.annotation IS NOT NULL)"""
_PG_AREAS = """areas AS (
  SELECT ABS((points->1->>0)::float8 - (points->0->>0)::float8)
       * ABS((points->1->>1)::float8 - (points->0->>1)::float8) AS x
  FROM shapes WHERE kind = 'RECTANGLE'
  UNION ALL
  SELECT ABS(SUM((p.value->>0)::float8 * (sh.points->(p.ord % sh.n)::int->>1)::float8
               - (sh.points->(p.ord % sh.n)::int->>0)::float8 * (p.value->>1)::float8)) / 2.0
  FROM (SELECT asset_id, shape_key, points, jsonb_array_length(points) AS n FROM shapes WHERE kind = 'POLYGON') sh
       CROSS JOIN LATERAL jsonb_array_elements(sh.points) WITH ORDINALITY AS p(value, ord)
  GROUP BY sh.asset_id, sh.shape_key)"""


@dataclass(frozen=True)
class Bin:
    lower: float
    upper: float
    count: int


@dataclass
class QualityFigures:
    shapes_by_label: dict[int, int]
    assets_by_shape_count: list[Bin]
    shape_areas: list[Bin]
    asset_areas: list[Bin]


def _postgres() -> bool:
    return sql.is_postgres(sql.current_connection())


def histogram_statement(ctes: str, values: str, bins: int) -> str:
    """SQL that groups the values of `values` (a SELECT of one column `x`) into `bins` equal
    bins over their observed range: rows (bin index, count, lowest, highest). The highest value
    lands in bin `bins`; the caller folds it into the last bin (closed on the right)."""
    floor = "FLOOR" if _postgres() else ""  # SQLite's CAST truncates, and the operand is >= 0
    with_clause = f"WITH {ctes + ', ' if ctes else ''}v AS MATERIALIZED ({values}), r AS (SELECT MIN(x) AS lo, MAX(x) AS hi FROM v)"
    return f"""{with_clause}
        SELECT CASE WHEN r.hi = r.lo THEN 0 ELSE CAST({floor}((v.x - r.lo) * 1.0 * {bins} / (r.hi - r.lo)) AS INTEGER) END
               AS b, COUNT(*), MIN(r.lo), MIN(r.hi)
        FROM v CROSS JOIN r GROUP BY b"""


async def _histogram(ctes: str, values: str, params: list, bins: int) -> list[Bin]:
    statement = histogram_statement(ctes, values, bins)
    rows = await sql.fetch_scan(statement, params)
    if not rows:
        return []
    low, high = float(rows[0][2]), float(rows[0][3])
    if high == low:  # one value only: a single bin holding it
        return [Bin(low, high, sum(row[1] for row in rows))]
    counts = [0] * bins
    for index, count, _, _ in rows:
        counts[min(int(index), bins - 1)] += count
    width = (high - low) / bins
    return [Bin(low + i * width, high if i == bins - 1 else low + (i + 1) * width, counts[i]) for i in range(bins)]


async def version_quality(version_id: int, bins: int) -> QualityFigures:
    """Shapes per label and the three histograms of a version's accepted annotations: four statements."""
    if not 1 <= bins <= MAX_BINS:
        raise BadRequest(f"bins must be between 1 and {MAX_BINS}.")
    postgres = _postgres()
    shapes, areas = (_PG_SHAPES, _PG_AREAS) if postgres else (_SQLITE_SHAPES, _SQLITE_AREAS)
    length = "jsonb_array_length" if postgres else "json_array_length"
    by_label = await sql.fetch_scan(f"WITH {shapes} SELECT label, COUNT(*) FROM shapes GROUP BY label", [version_id])
    return QualityFigures(
        shapes_by_label={int(label): count for label, count in by_label if label is not None},
        assets_by_shape_count=await _histogram(
            "", f"SELECT {length}(annotation) AS x FROM asset WHERE version_id = ? AND annotation IS NOT NULL",
            [version_id], bins),
        shape_areas=await _histogram(f"{shapes}, {areas}", "SELECT x FROM areas", [version_id], bins),
        asset_areas=await _histogram("", "SELECT width * height AS x FROM asset WHERE version_id = ?",
                                     [version_id], bins),
    )
