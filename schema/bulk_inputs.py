"""Direct builders for the input objects that arrive by the thousand: an addAssets call carries up
to 10,000 AssetInput, each with its ShapeInput and their PointInput.

Strawberry converts an input value field by field and resolves each field's type annotation again
for every object; for 1,000 assets that was about 40 % of the call's server time (docs/benchmarks.md,
"addAssets"). graphql-core has already coerced and checked these values against the schema (types,
required fields, enum values); these hooks (strawberry's `from_input`, which its own integrations
use) only build the same objects. tests/unit/test_bulk_inputs.py compares them with Strawberry's own
conversion.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def install(point_input: type, shape_input: type, asset_input: type) -> None:
    """Let the three input types build themselves from coerced values."""

    def point(cls, value: Mapping[str, Any], _context=None):
        return cls(x=value["x"], y=value["y"])

    def shape(cls, value: Mapping[str, Any], _context=None):
        return cls(label=value["label"], kind=value["kind"],
                   points=[point_input(x=p["x"], y=p["y"]) for p in value["points"]])

    def asset(cls, value: Mapping[str, Any], _context=None):
        shapes = value.get("shapes")
        return cls(filename=value["filename"], width=value["width"], height=value["height"], url=value.get("url"),
                   shapes=None if shapes is None else [shape(shape_input, s) for s in shapes])

    for cls, build in ((point_input, point), (shape_input, shape), (asset_input, asset)):
        cls.__strawberry_definition__.from_input = build
