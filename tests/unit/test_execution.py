"""The fast path for plain leaf fields (schema/execution.py) answers exactly as graphql-core does,
and a subscription's events keep nothing once delivered."""

from __future__ import annotations

import asyncio
import enum
import gc
import tracemalloc
from collections.abc import AsyncGenerator

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


@strawberry.type
class Update:
    kind: str
    item: Item


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def updates(self, count: int) -> AsyncGenerator[Update, None]:
        for n in range(count):
            yield Update(kind=f"k{n}", item=Item(name="a", nickname=None, count=n, color=Color.RED, ratio=0.5, later=n))


async def _memory_after_events(schema: strawberry.Schema, warm: int, total: int) -> tuple[int, int]:
    """Traced bytes after `warm` events and after `total`, with the subscription still open."""
    stream = await schema.subscribe("subscription { updates(count: %d) { kind item { name count shout } } }" % total)
    marks = []
    n = 0
    async for result in stream:
        assert result.errors is None, result.errors
        n += 1
        if n in (warm, total):
            gc.collect()
            marks.append(tracemalloc.get_traced_memory()[0])
    return marks[0], marks[1]


def test_a_long_subscription_keeps_nothing_per_event():
    """graphql-core 3.3.2 memoized every event's subfields on the subscription's executor: it
    grew by each event for as long as the subscription lived (schema/execution.py)."""
    schema = strawberry.Schema(query=Query, subscription=Subscription, execution_context_class=PlainLeafExecutionContext)
    tracemalloc.start()
    try:
        warm, end = asyncio.run(_memory_after_events(schema, 200, 2_200))
    finally:
        tracemalloc.stop()
    assert end - warm < 64 * 1024, end - warm  # 2,000 events kept 4.1 MB before the fix
