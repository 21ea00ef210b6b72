"""Shared types: the Node interface, page info and the payload error."""

from __future__ import annotations

import strawberry

from stepwise.models.errors import DomainError
from stepwise.schema.types.enums import ErrorCodeType


class Deferred:
    """A relation loaded only if the query selects it.

    graphql-core awaits any awaitable a field returns, so a relation can be a plain attribute,
    strawberry's cheapest kind of field, that holds either the related object (loaded for a
    whole page at once) or a Deferred that starts its load only when awaited.
    """

    __slots__ = ("_args", "_load", "_then")

    def __init__(self, load, *args, then=None) -> None:
        self._load = load  # a resolvers/ function: it returns rows, `then` makes them GraphQL objects
        self._args = args
        self._then = then

    def __await__(self):
        loaded = yield from self._load(*self._args).__await__()
        return loaded if self._then is None else self._then(loaded)


@strawberry.interface(
    name="Node", description="An object with a globally unique, opaque ID (Relay Global Object Identification)."
)
class Node:
    id: strawberry.ID = strawberry.field(description="The object's opaque global ID; pass it back as is.")


@strawberry.type(description="Where a page of a connection sits in the whole list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="True when more items follow `endCursor`.")
    has_previous_page: bool = strawberry.field(description="True when items come before `startCursor`.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first item of this page.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last item; pass it as `after`.")


def page_info(edges: list, has_next: bool, after: str | None) -> PageInfo:
    """PageInfo of a keyset page: edges carry `cursor`; a page after a cursor has a previous one."""
    return PageInfo(
        has_next_page=has_next,
        has_previous_page=after is not None,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )


@strawberry.type(description="A business-rule rejection of a mutation. Nothing was changed.")
class UserError:
    code: ErrorCodeType = strawberry.field(description="A machine-readable reason.")
    message: str = strawberry.field(description="A human-readable explanation, in English.")
    field: str | None = strawberry.field(
        description='The input field at fault, as a dotted path (e.g. "input.shapes.2.points"), if any.'
    )

    @classmethod
    def from_domain(cls, error: DomainError) -> UserError:
        return cls(code=ErrorCodeType(error.code.value), message=error.message, field=error.field)
