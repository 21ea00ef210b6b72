"""The COCO export's fast formatter (`coco.stored_annotations`) gives the very bytes of the plain
one (`coco.annotations`: a dict per box through orjson) for any stored shapes: random boxes of
every magnitude and precision, ints, -0.0, widths that round at the ninth decimal, numbers orjson
prints with an exponent, polygons among boxes, unknown labels and kinds."""

from __future__ import annotations

import math
import random

import orjson
import pytest

from stepwise.models.interchange import coco

CATEGORIES = {11: 1, 12: 2, 13: 3}  # label id -> category number; label 14 is not exported (0)


def reference(rows, next_id=1, first=True):
    return coco.annotations([(asset_id, orjson.loads(text)) for asset_id, text in rows], CATEGORIES, next_id, first)


def coordinate(rng: random.Random):
    """A number as an import or addAssets may store one, or an awkward one."""
    pick = rng.random()
    if pick < 0.5:
        return round(rng.uniform(0, 4000), rng.choice([0, 1, 2, 3, 6, 9]))
    if pick < 0.6:
        return rng.randint(0, 4000)
    if pick < 0.7:
        return rng.uniform(0, 1e-3) * rng.choice([1, 1e-4, 1e-9])  # exponents in orjson's and repr's text
    if pick < 0.75:
        return rng.choice([0.0, -0.0, 1e16, 1e15 + 0.5, 123456.5, 0.0009765625, 2.5e-9, 1.5e-9, 1e6, 999999.9999999999])
    if pick < 0.85:
        return rng.randint(0, 2**20) / 1024  # binary fractions: halves at the tenth decimal
    return rng.uniform(-50, 5000)


def random_rows(rng: random.Random, assets: int) -> list[tuple[int, str]]:
    rows = []
    for asset_id in range(1, assets + 1):
        shapes = []
        for _ in range(rng.choice([0, 1, 3, 5])):
            label, kind = rng.choice([11, 12, 13, 14]), rng.random()
            if kind < 0.75:
                x1, y1 = coordinate(rng), coordinate(rng)
                x2 = x1 + coordinate(rng) if rng.random() < 0.8 else coordinate(rng)
                y2 = y1 + coordinate(rng) if rng.random() < 0.8 else coordinate(rng)
                shapes.append({"label": label, "kind": "RECTANGLE", "points": [[x1, y1], [x2, y2]]})
            elif kind < 0.9:
                points = [[coordinate(rng), coordinate(rng)] for _ in range(rng.randint(3, 6))]
                shapes.append({"label": label, "kind": "POLYGON", "points": points})
            else:
                shapes.append({"label": label, "kind": rng.choice(["CLASSIFICATION", "POINT"]), "points": []})
        rows.append((asset_id, orjson.dumps(shapes).decode()))
    return rows


@pytest.mark.parametrize("seed", range(8))
def test_random_pages_give_the_same_bytes(seed):
    rng = random.Random(seed)
    rows = random_rows(rng, 400)
    for first, next_id in ((True, 1), (False, 7_001)):
        expected = reference(rows, next_id, first)
        assert coco.stored_annotations(rows, CATEGORIES, next_id, first) == expected
        as_bytes = [(asset_id, text.encode()) for asset_id, text in rows]  # asyncpg/SQLite may hand either
        assert coco.stored_annotations(as_bytes, CATEGORIES, next_id, first) == expected
        parsed = [(asset_id, orjson.loads(text)) for asset_id, text in rows]
        assert coco.stored_annotations(parsed, CATEGORIES, next_id, first) == expected


def test_a_page_without_exported_shapes_is_empty_and_keeps_the_id():
    rows = [(1, "[]"), (2, orjson.dumps([{"label": 11, "kind": "POINT", "points": [[1, 2]]}]).decode())]
    assert coco.stored_annotations(rows, CATEGORIES, 5, False) == reference(rows, 5, False) == (b"", 5)


def test_polygons_alone():
    rows = [(3, orjson.dumps([{"label": 12, "kind": "POLYGON", "points": [[1.5, 2], [10, 2.25], [4, 9]]}]).decode())]
    chunk, next_id = coco.stored_annotations(rows, CATEGORIES, 1, True)
    assert (chunk, next_id) == reference(rows)
    assert orjson.loads(b"[" + chunk + b"]")[0]["segmentation"] == [[1.5, 2, 10, 2.25, 4, 9]]


def test_widths_round_as_round_does():
    """The formatter's shortcut for round(w, 9) against round() itself, on differences of the
    numbers an export meets and on near-ties at the tenth decimal."""
    rng = random.Random(99)
    cases = []
    for _ in range(20_000):
        x1 = round(rng.uniform(0, 5000), rng.choice([2, 4, 9]))
        x2 = round(x1 + rng.uniform(0, 5000), rng.choice([2, 4, 9]))
        cases.append((x1, x2))
        tie = rng.randint(0, 10**13) / 10**9 + 5e-10  # a half at the tenth decimal, as near as a float gets
        cases.append((0.0, tie))
        cases.append((0.0, math.nextafter(tie, 0)))
        cases.append((0.0, math.nextafter(tie, math.inf)))
    rows = [(1, orjson.dumps([{"label": 11, "kind": "RECTANGLE", "points": [[x1, 0], [x2, x2]]} for x1, x2 in cases]).decode())]
    chunk, _ = coco.stored_annotations(rows, CATEGORIES, 1, True)
    boxes = orjson.loads(b"[" + chunk + b"]")
    assert [box["bbox"][2] for box in boxes] == [round(x2 - x1, 9) for x1, x2 in cases]
    assert chunk == reference(rows)[0]
