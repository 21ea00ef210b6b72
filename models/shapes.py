"""Annotation shapes: validation against an asset and a label set, and their area. Pure."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from stepwise.models.errors import invalid_input

MAX_SHAPES = 1_000
MAX_POINTS = 10_000


class ShapeKind(StrEnum):
    RECTANGLE = "RECTANGLE"
    POLYGON = "POLYGON"
    LINE = "LINE"
    POINT = "POINT"
    CLASSIFICATION = "CLASSIFICATION"


# How many points each kind takes: (minimum, maximum or None for unbounded).
POINT_COUNTS: dict[ShapeKind, tuple[int, int | None]] = {
    ShapeKind.RECTANGLE: (2, 2),
    ShapeKind.POLYGON: (3, None),
    ShapeKind.LINE: (2, None),
    ShapeKind.POINT: (1, 1),
    ShapeKind.CLASSIFICATION: (0, 0),
}


@dataclass(frozen=True)
class ShapeDraft:
    """A shape as a client sent it: a label name, a kind and (x, y) points."""

    label: str
    kind: ShapeKind
    points: Sequence[tuple[float, float]]


def _describe_count(kind: ShapeKind) -> str:
    low, high = POINT_COUNTS[kind]
    if high is None:
        return f"{low} or more points"
    return "no points" if high == 0 else f"exactly {low} point{'s' if low > 1 else ''}"


def validate_shapes(
    drafts: Sequence[ShapeDraft],
    label_ids: Mapping[str, int],
    width: int,
    height: int,
    field: str,
) -> list[dict]:
    """Check every shape and return the stored form: {"label": id, "kind": k, "points": [[x, y]]}."""
    if len(drafts) > MAX_SHAPES:
        raise invalid_input(field, f"At most {MAX_SHAPES} shapes per annotation.")
    stored = []
    for index, draft in enumerate(drafts):
        path = f"{field}.{index}"
        label_id = label_ids.get(draft.label)
        if label_id is None:
            raise invalid_input(f"{path}.label", f"Unknown label {draft.label[:100]!r} for this dataset version.")
        low, high = POINT_COUNTS[draft.kind]
        count = len(draft.points)
        if count < low or (high is not None and count > high) or count > MAX_POINTS:
            raise invalid_input(f"{path}.points", f"A {draft.kind} takes {_describe_count(draft.kind)}; got {count}.")
        for point_index, (x, y) in enumerate(draft.points):
            if not (math.isfinite(x) and math.isfinite(y)) or not (0 <= x <= width and 0 <= y <= height):
                raise invalid_input(
                    f"{path}.points.{point_index}",
                    f"Point ({x}, {y}) is outside the asset ({width}x{height}).",
                )
        if draft.kind is ShapeKind.RECTANGLE:
            (x1, y1), (x2, y2) = draft.points
            if not (x1 < x2 and y1 < y2):
                raise invalid_input(
                    f"{path}.points", "A RECTANGLE is its top-left then bottom-right corner, with positive size."
                )
        stored.append({"label": label_id, "kind": draft.kind.value, "points": [[x, y] for x, y in draft.points]})
    return stored


def shape_area(kind: str, points: Sequence[Sequence[float]]) -> float:
    """Area in square pixels for RECTANGLE and POLYGON; 0 for the other kinds."""
    if kind == ShapeKind.RECTANGLE:
        (x1, y1), (x2, y2) = points
        return abs(x2 - x1) * abs(y2 - y1)
    if kind == ShapeKind.POLYGON:
        twice = sum(
            x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(points, [*points[1:], points[0]], strict=True)
        )
        return abs(twice) / 2
    return 0.0
