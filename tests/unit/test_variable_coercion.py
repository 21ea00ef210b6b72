"""Variables are coerced through each input type's compiled function (schema/variable_coercion.py)
with graphql-core's results: the same value (types included) or Undefined for random values,
valid and broken, of the real schema's addAssets input and of types with defaults, one-of,
recursion and custom scalars; and the same error messages through a real execution."""

from __future__ import annotations

import math
import random

import pytest
from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    GraphQLBoolean,
    Undefined,
    graphql_sync,
)
from graphql.execution import values
from graphql.utilities.coerce_input_value import coerce_input_value as graphql_core

from stepwise.config import load_settings
from stepwise.schema.app import build_schema
from stepwise.schema.variable_coercion import coerce_input_value

SCHEMA = build_schema(load_settings({"STEPWISE_DATABASE_URL": "sqlite://:memory:"}))._schema
ADD_ASSETS = GraphQLNonNull(SCHEMA.type_map["AddAssetsInput"])

COLOR = GraphQLEnumType("Color", {"RED": 1, "GREEN": 2})
UPPER = GraphQLScalarType("Upper", coerce_input_value=lambda value: value.upper())
TREE = GraphQLInputObjectType("Tree", lambda: {
    "value": GraphQLInputField(GraphQLInt, default_value=7),
    "name": GraphQLInputField(GraphQLNonNull(GraphQLString), out_name="title"),
    "color": GraphQLInputField(COLOR),
    "tag": GraphQLInputField(UPPER),
    "ratio": GraphQLInputField(GraphQLFloat),
    "flag": GraphQLInputField(GraphQLBoolean),
    "key": GraphQLInputField(GraphQLID),
    "children": GraphQLInputField(GraphQLList(GraphQLNonNull(TREE))),
    "pick": GraphQLInputField(ONE_OF),
})
ONE_OF = GraphQLInputObjectType("OneOf", {"a": GraphQLInputField(GraphQLInt), "b": GraphQLInputField(GraphQLString)},
                                is_one_of=True)
TYPES = [ADD_ASSETS, GraphQLList(TREE), GraphQLNonNull(GraphQLList(GraphQLNonNull(TREE)))]

ODD = [None, Undefined, True, False, 0, -1, 2**31, -(2**31) - 1, 2**40, 3.0, 2.5, -0.0, math.nan, math.inf, "", "RED",
       "x", [], [1], {}, (1, 2), {"x": 1}]


def valid_asset(rng: random.Random) -> dict:
    asset = {"filename": f"f{rng.randint(0, 99)}.jpg", "width": rng.randint(1, 4000), "height": rng.randint(1, 4000)}
    if rng.random() < 0.5:
        asset["url"] = rng.choice([None, "https://x.test/a.jpg"])
    if rng.random() < 0.6:
        asset["shapes"] = [{"label": "car", "kind": rng.choice(["RECTANGLE", "POLYGON", "POINT"]),
                            "points": [{"x": rng.choice([1, 2.5, 0.1]), "y": rng.uniform(0, 9)} for _ in range(2)]}
                           for _ in range(rng.randint(0, 3))]
    return asset


def valid_tree(rng: random.Random, depth: int = 0) -> dict:
    tree: dict = {"name": rng.choice(["a", "b"])}
    for key, pick in (("value", lambda: rng.randint(-5, 5)), ("color", lambda: rng.choice(["RED", "GREEN"])),
                      ("tag", lambda: "abc"), ("ratio", lambda: rng.choice([1.5, 2])), ("flag", lambda: True),
                      ("key", lambda: rng.choice(["k", 12])), ("pick", lambda: rng.choice([{"a": 1}, {"b": "x"}]))):
        if rng.random() < 0.5:
            tree[key] = pick()
    if depth < 3 and rng.random() < 0.4:
        tree["children"] = [valid_tree(rng, depth + 1) for _ in range(rng.randint(0, 2))]
    return tree


def broken(rng: random.Random, value):
    """The value with one random place replaced, removed or given an extra key."""
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = rng.choice(list(value))
        copy = dict(value)
        action = rng.random()
        if action < 0.15:
            del copy[key]
        elif action < 0.25:
            copy["unknown"] = 1
        else:
            copy[key] = broken(rng, value[key])
        return copy
    if isinstance(value, list) and value and rng.random() < 0.8:
        copy = list(value)
        index = rng.randrange(len(copy))
        copy[index] = broken(rng, copy[index])
        return copy
    return rng.choice(ODD)


def same(a, b) -> bool:
    """Equal, with the same types all the way down (5 and 5.0 differ) and nan equal to nan."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


@pytest.mark.parametrize("seed", range(6))
def test_random_values_coerce_as_graphql_core_coerces_them(seed):
    rng = random.Random(seed)
    outcomes = {"coerced": 0, "undefined": 0}
    for _ in range(600):
        type_ = rng.choice(TYPES)
        if type_ is ADD_ASSETS:
            value = {"datasetVersionId": "RGF0YXNldFZlcnNpb246MQ==", "assets": [valid_asset(rng) for _ in range(rng.randint(0, 4))]}
        else:
            value = [valid_tree(rng) for _ in range(rng.randint(0, 3))]
            if rng.random() < 0.1:
                value = value[0] if value else None  # a single value where a list is expected
        if rng.random() < 0.5:
            value = broken(rng, value)
        expected, got = graphql_core(value, type_), coerce_input_value(value, type_)
        assert same(got, expected), (value, got, expected)
        outcomes["undefined" if expected is Undefined else "coerced"] += 1
    assert min(outcomes.values()) > 100  # both ways are exercised


def test_it_is_what_graphql_core_calls_and_errors_are_worded_as_before():
    assert values.coerce_input_value is coerce_input_value  # installed by schema/app.py
    query = GraphQLObjectType("Query", {"n": GraphQLField(GraphQLInt, args={"t": GraphQLArgument(GraphQLList(TREE))},
                                                        resolve=lambda _, __, t: len(t))})
    schema = GraphQLSchema(query)
    document = "query($t: [Tree]) { n(t: $t) }"
    calls = []
    values.coerce_input_value = lambda value, type_: calls.append(value) or coerce_input_value(value, type_)
    try:  # graphql-core looks the function up in its module at each call (else the install does nothing)
        ok = graphql_sync(schema, document, variable_values={"t": [{"name": "a", "children": [{"name": "b"}]}]})
    finally:
        values.coerce_input_value = coerce_input_value
    assert ok.errors is None and ok.data == {"n": 1} and len(calls) == 1
    refused = graphql_sync(schema, document, variable_values={"t": [{"name": "a", "children": [{"value": 2.5}]}]})
    installed = values.coerce_input_value
    values.coerce_input_value = graphql_core
    try:
        reference = graphql_sync(schema, document, variable_values={"t": [{"name": "a", "children": [{"value": 2.5}]}]})
    finally:
        values.coerce_input_value = installed
    assert [e.message for e in refused.errors] == [e.message for e in reference.errors] and len(refused.errors) == 2
