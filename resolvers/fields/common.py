"""Lookups every area shares: a row by id through the operation's loaders, and a row's scope."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stepwise.resolvers.scopes import scope_of

if TYPE_CHECKING:
    from stepwise.schema.context import Info


async def row_by_id(info: Info, model: type, pk: int | None):
    """The `model` row of this id (None for a None id or a missing row), batched per operation."""
    return await info.context.loaders.get(model, pk)


async def rows_by_ids(info: Info, model: type, ids: list[int | None]) -> list:
    """Several rows in one batch, in the order of `ids` (None where the id is None or missing):
    awaiting row_by_id in a loop would send one query each."""
    wanted = [i for i in ids if i is not None]
    rows = {row.id: row for row in await info.context.loaders.by_id(model).load_many(wanted) if row}
    return [rows.get(i) for i in ids]


async def row_scope(info: Info, row) -> tuple[int, int | None]:
    """(organization id, dataset id or None) of a row, for the policy checks of its fields."""
    return await scope_of(info.context.loaders, row)
