import pytest

from stepwise.models.errors import DomainError, ErrorCode
from stepwise.models.shapes import ShapeDraft, ShapeKind, shape_area, validate_shapes

LABELS = {"car": 1, "person": 2}


def check(*drafts, width=100, height=50):
    return validate_shapes(list(drafts), LABELS, width, height, "input.shapes")


def refused(*drafts) -> DomainError:
    with pytest.raises(DomainError) as caught:
        check(*drafts)
    assert caught.value.code is ErrorCode.INVALID_INPUT
    return caught.value


def test_valid_shapes_are_stored_with_label_ids():
    stored = check(
        ShapeDraft("car", ShapeKind.RECTANGLE, [(0, 0), (10, 5)]),
        ShapeDraft("person", ShapeKind.CLASSIFICATION, []),
    )
    assert stored == [
        {"label": 1, "kind": "RECTANGLE", "points": [[0, 0], [10, 5]]},
        {"label": 2, "kind": "CLASSIFICATION", "points": []},
    ]


@pytest.mark.parametrize(
    ("kind", "count"),
    [
        (ShapeKind.RECTANGLE, 3), (ShapeKind.RECTANGLE, 1), (ShapeKind.POLYGON, 2),
        (ShapeKind.LINE, 1), (ShapeKind.POINT, 2), (ShapeKind.POINT, 0), (ShapeKind.CLASSIFICATION, 1),
    ],
)
def test_wrong_point_counts_name_the_points_field(kind, count):
    points = [(1 + i, 1 + i) for i in range(count)]
    assert refused(ShapeDraft("car", kind, points)).field == "input.shapes.0.points"


def test_point_outside_the_asset_names_the_point():
    error = refused(ShapeDraft("car", ShapeKind.LINE, [(1, 1), (101, 1)]))
    assert error.field == "input.shapes.0.points.1"


def test_unknown_label_names_the_label_field():
    error = refused(ShapeDraft("car", ShapeKind.POINT, [(1, 1)]), ShapeDraft("truck", ShapeKind.POINT, [(1, 1)]))
    assert error.field == "input.shapes.1.label"


def test_rectangle_corners_must_be_ordered_with_positive_size():
    assert refused(ShapeDraft("car", ShapeKind.RECTANGLE, [(10, 10), (5, 20)])).field == "input.shapes.0.points"
    assert refused(ShapeDraft("car", ShapeKind.RECTANGLE, [(10, 10), (10, 20)])).field == "input.shapes.0.points"


def test_non_finite_coordinates_are_refused():
    refused(ShapeDraft("car", ShapeKind.POINT, [(float("nan"), 1)]))


def test_areas():
    assert shape_area("RECTANGLE", [[0, 0], [4, 3]]) == 12
    assert shape_area("POLYGON", [[0, 0], [4, 0], [4, 3]]) == 6
    assert shape_area("POLYGON", [[0, 0], [0, 3], [4, 0]]) == 6  # orientation does not matter
    assert shape_area("LINE", [[0, 0], [4, 3]]) == 0
    assert shape_area("POINT", [[1, 1]]) == 0
