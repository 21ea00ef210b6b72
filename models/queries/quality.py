"""Quality figures of a version's accepted annotations, read from the version's quality counts
(models/db/rollups.py: how many shapes per (label, area), annotated assets per shape count,
assets per area), kept by every write of an annotation (models/actions/rollups.py). The
histograms are weighted sums over those (value, count) rows, computed in SQL: every statement
returns at most one row per label or per bin, and no annotation is parsed per request.
"""

from __future__ import annotations

from dataclasses import dataclass

from stepwise.models.db import sql
from stepwise.models.errors import BadRequest

MAX_BINS = 100


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


def histogram_statement(values: str, bins: int) -> str:
    """SQL that groups the weighted values of `values` (a SELECT of columns `x`, `n`: n values x)
    into `bins` equal bins over their observed range: rows (bin index, count, lowest, highest).
    The highest value lands in bin `bins`; the caller folds it into the last bin (closed on the right)."""
    floor = "FLOOR" if _postgres() else ""  # SQLite's CAST truncates, and the operand is >= 0
    return f"""WITH v AS MATERIALIZED ({values}), r AS (SELECT MIN(x) AS lo, MAX(x) AS hi FROM v)
        SELECT CASE WHEN r.hi = r.lo THEN 0 ELSE CAST({floor}((v.x - r.lo) * 1.0 * {bins} / (r.hi - r.lo)) AS INTEGER) END
               AS b, SUM(v.n), MIN(r.lo), MIN(r.hi)
        FROM v CROSS JOIN r GROUP BY b"""


async def _histogram(values: str, params: list, bins: int) -> list[Bin]:
    rows = await sql.fetch_scan(histogram_statement(values, bins), params)
    if not rows:
        return []
    low, high = float(rows[0][2]), float(rows[0][3])
    if high == low:  # one value only: a single bin holding it
        return [Bin(low, high, sum(int(row[1]) for row in rows))]
    counts = [0] * bins
    for index, count, _, _ in rows:
        counts[min(int(index), bins - 1)] += int(count)
    width = (high - low) / bins
    return [Bin(low + i * width, high if i == bins - 1 else low + (i + 1) * width, counts[i]) for i in range(bins)]


def _counted(kind: str, extra: str = "") -> str:
    return f"SELECT value AS x, n FROM quality_value_count WHERE version_id = ? AND kind = '{kind}' AND n > 0{extra}"


async def version_quality(version_id: int, bins: int) -> QualityFigures:
    """Shapes per label and the three histograms of a version's accepted annotations: four statements."""
    if not 1 <= bins <= MAX_BINS:
        raise BadRequest(f"bins must be between 1 and {MAX_BINS}.")
    by_label = await sql.fetch_scan(
        "SELECT label_id, SUM(n) FROM quality_value_count WHERE version_id = ? AND kind = 'SHAPE'"
        " GROUP BY label_id HAVING SUM(n) > 0", [version_id])
    return QualityFigures(
        shapes_by_label={int(label): int(count) for label, count in by_label},
        assets_by_shape_count=await _histogram(_counted("SHAPE_COUNT"), [version_id], bins),
        # RECTANGLE and POLYGON shapes: the others are counted with area -1
        shape_areas=await _histogram(_counted("SHAPE", " AND value >= 0"), [version_id], bins),
        asset_areas=await _histogram(_counted("ASSET_AREA"), [version_id], bins),
    )
