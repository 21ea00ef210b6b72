"""The fast path for plain leaf fields (schema/execution.py) answers exactly as graphql-core does."""

from __future__ import annotations

import asyncio
import enum

import pytest
import strawberry
from strawberry.extensions import SchemaExtension

from stepwise.schema.execution import PlainLeafExecutionContext, plain_leaves
from stepwise.schema.types.common import Deferred


@strawberry.enum
class Color(enum.Enum):
    RED = "RED"
    BLUE = "BLUE"


@strawberry.type
class Item:
    name: str
    nickname: str | None
    count: int
    color: Color
    ratio: float
    later: int

    @strawberry.field
    def shout(self) -> str:
        return (self.name or "").upper()


async def _seven() -> int:
    return 7


def items() -> list[Item]:
    return [
        Item(name="a", nickname=None, count=1, color=Color.RED, ratio=0.5, later=Deferred(_seven)),
        Item(name=None, nickname="b", count=2, color=Color.BLUE, ratio=1.0, later=3),  # null in a non-null field
        Item(name="c", nickname="c", count="many", color=Color.RED, ratio=2.0, later=4),  # not an Int
        Item(name="d", nickname="d", count=True, color="GREEN", ratio=float("nan"), later=5),  # wrong enum, NaN
    ]


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item | None]:
        return items()

    @strawberry.field
    def first(self) -> Item:
        return items()[0]


class Upper(SchemaExtension):
    """An extension that wraps every resolver: the fast path must step aside for it."""

    def resolve(self, _next, root, info, *args, **kwargs):
        value = _next(root, info, *args, **kwargs)
        return value.upper() if isinstance(value, str) else value


QUERIES = [
    "{ items { name nickname count color ratio shout later } }",
    "{ first { n: name c: count again: count __typename ... on Item { color } } }",
    "query { items { ...F } } fragment F on Item { name later }",
    "{ first { name later } }",
]


def run(schema: strawberry.Schema, query: str) -> tuple:
    result = asyncio.run(schema.execute(query))
    return result.data, sorted((e.message, tuple(e.path or ())) for e in result.errors or [])


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("extensions", [[], [Upper]], ids=["plain", "with a resolve extension"])
def test_answers_and_errors_are_those_of_graphql_core(query, extensions):
    baseline = strawberry.Schema(query=Query, extensions=extensions)
    fast = strawberry.Schema(query=Query, extensions=extensions, execution_context_class=PlainLeafExecutionContext)
    assert run(fast, query) == run(baseline, query)


def test_the_fast_path_covers_plain_leaves_only():
    schema = strawberry.Schema(query=Query, execution_context_class=PlainLeafExecutionContext)
    item = schema._schema.type_map["Item"]
    assert set(plain_leaves(schema._schema)[item]) == {"name", "nickname", "count", "color", "ratio", "later"}
    query = schema._schema.type_map["Query"]
    assert query not in plain_leaves(schema._schema)  # resolvers and object fields take graphql-core's path


def test_errors_are_worded_by_graphql_core():
    schema = strawberry.Schema(query=Query, execution_context_class=PlainLeafExecutionContext)
    data, errors = run(schema, "{ items { name count color } }")
    assert data["items"][0] == {"name": "a", "count": 1, "color": "RED"}
    assert data["items"][1] is None and data["items"][2] is None and data["items"][3] is None
    assert errors == [
        ("Cannot return null for non-nullable field Item.name.", ("items", 1, "name")),
        ("Enum 'Color' cannot represent value: 'GREEN'", ("items", 3, "color")),
        ("Int cannot represent non-integer value: 'many'", ("items", 2, "count")),
    ]
