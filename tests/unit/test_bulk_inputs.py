"""The addAssets input types build themselves (schema/bulk_inputs.py) exactly as Strawberry would."""

from __future__ import annotations

import strawberry

from stepwise.schema.inputs import AssetInput, PointInput, ShapeInput
from stepwise.schema.types.enums import ShapeKind

RECEIVED: list = []


@strawberry.type
class Query:
    @strawberry.field
    def take(self, assets: list[AssetInput]) -> int:
        RECEIVED.append(assets)
        return len(assets)


SCHEMA = strawberry.Schema(query=Query)
DOCUMENT = "query($a: [AssetInput!]!) { take(assets: $a) }"
ASSETS = [
    {"filename": "a.jpg", "width": 640, "height": 480},
    {"filename": "b.jpg", "width": 1, "height": 2, "url": None, "shapes": None},
    {"filename": "c.jpg", "width": 3, "height": 4, "url": "https://x.test/c.jpg", "shapes": []},
    {"filename": "d.jpg", "width": 100, "height": 100, "shapes": [
        {"label": "car", "kind": "RECTANGLE", "points": [{"x": 1, "y": 2.5}, {"x": 50, "y": 60}]},
        {"label": "cat", "kind": "CLASSIFICATION", "points": []},
        {"label": "road", "kind": "POLYGON", "points": [{"x": 0, "y": 0}, {"x": 9.75, "y": 0}, {"x": 9, "y": 9}]},
    ]},
]


def _received(variables: dict) -> list:
    RECEIVED.clear()
    result = SCHEMA.execute_sync(DOCUMENT, variable_values=variables)
    assert result.errors is None, result.errors
    return RECEIVED[0]


def test_the_hooks_build_what_strawberrys_own_conversion_builds():
    fast = _received({"a": ASSETS})
    definitions = [cls.__strawberry_definition__ for cls in (PointInput, ShapeInput, AssetInput)]
    hooks = [d.from_input for d in definitions]
    assert all(hooks), "schema/inputs.py installs the builders"
    try:
        for definition in definitions:
            definition.from_input = None
        reference = _received({"a": ASSETS})
    finally:
        for definition, hook in zip(definitions, hooks, strict=True):
            definition.from_input = hook
    assert fast == reference
    shape = fast[3].shapes[0]
    assert type(fast[0]) is AssetInput and type(shape) is ShapeInput and type(shape.points[0]) is PointInput
    assert shape.kind is ShapeKind.RECTANGLE and fast[0].url is None and fast[0].shapes is None
    assert fast[2].shapes == [] and fast[2].url == "https://x.test/c.jpg"


def test_graphql_still_refuses_what_the_schema_refuses():
    for bad in ({"filename": "a.jpg", "width": 1},  # height missing
                {"filename": "a.jpg", "width": "wide", "height": 1},
                {"filename": "a.jpg", "width": 1, "height": 1, "shapes": [{"label": "x", "kind": "BLOB", "points": []}]}):
        result = SCHEMA.execute_sync(DOCUMENT, variable_values={"a": [bad]})
        assert result.errors and result.data is None
