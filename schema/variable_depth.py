"""graphql-core's nesting check of variables, skipped where it cannot fail.

Before coercing a variable, graphql-core 3.3 walks its whole value (`input_is_nested_too_deeply`)
to refuse one nested deeper than MAX_NESTING_DEPTH (200) along its type, which only a recursive
input type allows. For an addAssets call of 1,000 assets that walk was 8 % of the server's time
(docs/benchmarks.md). The depth it counts is at most the type's own depth (each list or input
object level adds one), so for a type with no recursion and a depth within the limit the answer
is False whatever the value; every other type is checked by graphql-core's walk as before.
tests/unit/test_variable_depth.py compares both answers.
"""

from __future__ import annotations

import weakref
from typing import Any

from graphql import GraphQLInputObjectType, GraphQLInputType, is_input_object_type, is_list_type, is_non_null_type
from graphql.execution import values
from graphql.language.parser import MAX_NESTING_DEPTH

_walk = values.input_is_nested_too_deeply
# By input object type, the schema's own (weakly: a schema that goes takes its entries along).
# Never by the type a variable is checked against: graphql-core builds its list and non-null
# wrappers anew for every request (type_from_ast), so a cache keyed on them grew with every
# request (found by the soak, docs/reliability.md).
_object_depths: weakref.WeakKeyDictionary[GraphQLInputObjectType, int | None] = weakref.WeakKeyDictionary()


def type_depth(type_: GraphQLInputType, seen: frozenset = frozenset()) -> int | None:
    """The deepest a value of `type_` can nest as graphql-core's check counts it (a list or an
    input object level is one); None when a recursive input type makes it unbounded."""
    if is_non_null_type(type_):
        return type_depth(type_.of_type, seen)
    if is_list_type(type_):
        inner = type_depth(type_.of_type, seen)
        return None if inner is None else inner + 1
    if is_input_object_type(type_):
        if type_ in seen:
            return None
        inner = [type_depth(field.type, seen | {type_}) for field in type_.fields.values()]
        return None if None in inner else 1 + max(inner, default=0)
    return 0


def _depth(type_: GraphQLInputType) -> int | None:
    """type_depth, with the input object types' depths computed once."""
    if is_non_null_type(type_):
        return _depth(type_.of_type)
    if is_list_type(type_):
        inner = _depth(type_.of_type)
        return None if inner is None else inner + 1
    if is_input_object_type(type_):
        if type_ not in _object_depths:
            _object_depths[type_] = type_depth(type_)
        return _object_depths[type_]
    return 0


def input_is_nested_too_deeply(value: Any, type_: GraphQLInputType) -> bool:
    depth = _depth(type_)
    if depth is not None and depth <= MAX_NESTING_DEPTH:
        return False
    return _walk(value, type_)


def install() -> None:
    """coerce_variable_values looks the check up in its module at each call."""
    values.input_is_nested_too_deeply = input_is_nested_too_deeply
