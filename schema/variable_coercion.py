"""graphql-core's coercion of variables, with each input type's walk worked out once.

graphql-core's `coerce_input_value` asks again, for every value of a variable, what kind of type
it is coercing to (non-null, list, input object, leaf) and walks the input object's fields
through the same generic code. An addAssets call of 1,000 assets holds about 20,000 values: that
walk was the largest single part of the call's server time (docs/benchmarks.md, "addAssets,
fourth pass"). Here a type gets a coercing function built from its structure once (kept on the
input object type itself, so it lives and dies with its schema), which takes the common cases
directly: a dict for an input object, a list for a list, a str for String and ID, an int in
range for Int, a finite float for Float, a bool for Boolean. Any other value (None, a value to
wrap as a list of one, an int for a Float, a one-of input object...) goes to graphql-core's own
function, so the result, Undefined included (after which graphql-core words the error), is
always the one graphql-core gives. tests/unit/test_variable_coercion.py compares both.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLFloat,
    GraphQLID,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInt,
    GraphQLString,
    Undefined,
    is_input_object_type,
    is_list_type,
    is_non_null_type,
    is_required_input_field,
)
from graphql.execution import values
from graphql.type.scalars import GRAPHQL_MAX_INT, GRAPHQL_MIN_INT
from graphql.utilities.coerce_input_value import coerce_default_value as _coerce_default_value
from graphql.utilities.coerce_input_value import coerce_input_value as _generic

Coerce = Callable[[Any], Any]
_COMPILED = "_stepwise_coerce"  # the attribute an input object type keeps its function in


def coerce_input_value(input_value: Any, type_: GraphQLInputType) -> Any:
    """What graphql-core's coerce_input_value returns, through the type's compiled function."""
    return coercer(type_)(input_value)


def coercer(type_: GraphQLInputType) -> Coerce:
    """The function coercing values of `type_`. Wrappers (non-null, list) are built anew for every
    request by graphql-core, so only input object types keep theirs."""
    if is_non_null_type(type_):
        return _non_null(coercer(type_.of_type))
    if is_list_type(type_):
        return _list_of(type_, coercer(type_.of_type))
    if is_input_object_type(type_):
        compiled = type_.__dict__.get(_COMPILED)
        if compiled is None:
            compiled = _input_object(type_)
            setattr(type_, _COMPILED, compiled)
        return compiled
    return _leaf(type_)


def _non_null(inner: Coerce) -> Coerce:
    def non_null(value: Any) -> Any:
        if value is None or value is Undefined:
            return Undefined
        return inner(value)

    return non_null


def _list_of(type_: GraphQLInputType, inner: Coerce) -> Coerce:
    def list_of(value: Any) -> Any:
        if type(value) is not list:  # null, one value as a list of one, another iterable
            return _generic(value, type_)
        coerced = []
        append = coerced.append
        for item in value:
            item = inner(item)
            if item is Undefined:
                return Undefined
            append(item)
        return coerced

    return list_of


def _input_object(type_: GraphQLInputObjectType) -> Coerce:
    fields: list[tuple] | None = None  # built at first use: an input type may contain itself
    names: frozenset[str] = frozenset()

    def input_object(value: Any) -> Any:
        nonlocal fields, names
        if type(value) is not dict or type_.is_one_of:
            return _generic(value, type_)
        if fields is None:
            fields = [(name, field.out_name or name, coercer(field.type), is_required_input_field(field), field)
                      for name, field in type_.fields.items()]
            names = frozenset(type_.fields)
        if not names.issuperset(value):  # a name the type lacks (or one given as Undefined)
            return _generic(value, type_)
        coerced = {}
        for name, out_name, coerce_field, required, field in fields:
            field_value = value.get(name, Undefined)
            if field_value is Undefined:
                if required:
                    return Undefined
                default = _coerce_default_value(field)
                if default is not Undefined:
                    coerced[out_name] = default
            else:
                field_value = coerce_field(field_value)
                if field_value is Undefined:
                    return Undefined
                coerced[out_name] = field_value
        return type_.out_type(coerced)

    return input_object


def _leaf(type_: GraphQLInputType) -> Coerce:
    if type_ is GraphQLString or type_ is GraphQLID:
        exact, check = str, None
    elif type_ is GraphQLInt:
        exact, check = int, lambda value: GRAPHQL_MIN_INT <= value <= GRAPHQL_MAX_INT
    elif type_ is GraphQLFloat:
        exact, check = float, math.isfinite
    elif type_ is GraphQLBoolean:
        exact, check = bool, None
    else:
        return lambda value: _generic(value, type_)

    def leaf(value: Any) -> Any:
        if type(value) is exact and (check is None or check(value)):
            return value
        return _generic(value, type_)

    return leaf


def install() -> None:
    """coerce_variable_values looks the function up in its module at each call."""
    values.coerce_input_value = coerce_input_value
