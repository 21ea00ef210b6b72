"""graphql-core's nesting check of variables is skipped only where it cannot fail
(schema/variable_depth.py): same answers as graphql-core's own walk, and deep values of a
recursive input type are still refused through a real execution."""

from __future__ import annotations

from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    graphql_sync,
)
from graphql.execution import values
from graphql.language.parser import MAX_NESTING_DEPTH

from stepwise.schema import variable_depth
from stepwise.schema.variable_depth import input_is_nested_too_deeply, type_depth

TREE = GraphQLInputObjectType("Tree", lambda: {"value": GraphQLInputField(GraphQLInt),
                                               "children": GraphQLInputField(GraphQLList(GraphQLNonNull(TREE)))})
POINT = GraphQLInputObjectType("Point", {"x": GraphQLInputField(GraphQLNonNull(GraphQLInt))})
SHAPE = GraphQLInputObjectType("Shape", {"points": GraphQLInputField(GraphQLList(GraphQLNonNull(POINT)))})
ASSETS = GraphQLList(GraphQLNonNull(GraphQLInputObjectType("Asset", {"shapes": GraphQLInputField(GraphQLList(SHAPE))})))


def tree(depth: int) -> dict:
    node: dict = {"value": 1}
    for _ in range(depth):
        node = {"children": [node]}
    return node


def nested_list(levels: int):
    type_ = GraphQLInt
    for _ in range(levels):
        type_ = GraphQLList(type_)
    return type_


def test_the_depth_of_a_type_is_its_list_and_object_levels_and_none_when_recursive():
    assert type_depth(GraphQLNonNull(GraphQLInt)) == 0
    assert type_depth(POINT) == 1 and type_depth(SHAPE) == 3
    assert type_depth(ASSETS) == 6
    assert type_depth(TREE) is None
    assert type_depth(nested_list(MAX_NESTING_DEPTH + 5)) == MAX_NESTING_DEPTH + 5


def test_it_answers_as_graphql_cores_walk():
    walk = variable_depth._walk
    cases = [
        ([{"shapes": [{"points": [{"x": 1}] * 3}] * 2}] * 50, ASSETS),
        ({"points": 5}, SHAPE),  # a value where the type wants a list: coerced as a list of one
        (tree(3), TREE),
        (tree(MAX_NESTING_DEPTH), TREE),
        (tree(MAX_NESTING_DEPTH + 1), TREE),
        (1, nested_list(MAX_NESTING_DEPTH + 5)),
        ([[[[1]]]], nested_list(MAX_NESTING_DEPTH + 5)),
    ]
    for value, type_ in cases:
        assert input_is_nested_too_deeply(value, type_) == walk(value, type_), (value, type_)
    assert walk(tree(MAX_NESTING_DEPTH + 1), TREE) and walk(1, nested_list(MAX_NESTING_DEPTH + 5))


def test_a_too_deep_variable_is_still_refused_and_a_bounded_one_served():
    import stepwise.schema.app  # noqa: F401  (installs it)

    assert values.input_is_nested_too_deeply is input_is_nested_too_deeply

    query = GraphQLObjectType("Query", {
        "depth": GraphQLField(GraphQLInt, args={"t": GraphQLArgument(TREE)}, resolve=lambda _, __, t: 1),
        "count": GraphQLField(GraphQLInt, args={"a": GraphQLArgument(ASSETS)}, resolve=lambda _, __, a: len(a)),
    })
    schema = GraphQLSchema(query)
    deep = graphql_sync(schema, "query($t: Tree) { depth(t: $t) }", variable_values={"t": tree(MAX_NESTING_DEPTH + 1)})
    assert deep.data is None and "too deeply" in deep.errors[0].message
    shallow = graphql_sync(schema, "query($t: Tree) { depth(t: $t) }", variable_values={"t": tree(10)})
    assert shallow.errors is None and shallow.data == {"depth": 1}
    many = graphql_sync(schema, "query($a: [Asset!]) { count(a: $a) }",
                        variable_values={"a": [{"shapes": [{"points": [{"x": 1}]}]}] * 1000})
    assert many.errors is None and many.data == {"count": 1000}


def test_the_depths_kept_do_not_grow_with_the_wrappers_each_request_builds():
    """graphql-core wraps a variable's type anew for each request (type_from_ast): checking 1,000
    fresh wrappers keeps one depth per input object type, not one per wrapper (this cache once
    grew with every request of a soak)."""
    input_is_nested_too_deeply([], ASSETS)
    kept = len(variable_depth._object_depths)  # Asset (its fields are in its depth), other tests' types
    assert ASSETS.of_type.of_type in variable_depth._object_depths
    for _ in range(1_000):
        fresh = GraphQLList(GraphQLNonNull(ASSETS.of_type.of_type))
        assert input_is_nested_too_deeply([{"shapes": []}], fresh) is False
    assert len(variable_depth._object_depths) == kept
