"""Batched reads behind the per-operation DataLoaders (resolvers/loaders.py): one query for
every key a resolver level asked for."""

from __future__ import annotations

from collections import defaultdict
from functools import partial

from stepwise.models.db import sql
from stepwise.models.db.issues import IssueStatus
from stepwise.models.queries.rows import in_list


def model_rows(model):
    """`fetch(where, params)` reading model objects of `model` (rows_by_keys takes it)."""
    return partial(sql.fetch_models, model)


async def rows_by_keys(fetch, key: str, keys: list[int]) -> list:
    """The one row whose `key` column is each given value, or None; `fetch(where, params)` reads
    model objects or lean rows (models/queries/rows.py, for the hot list pages)."""
    rows = {getattr(row, key): row for row in await fetch(f"{key} IN ({in_list(keys)})", list(keys))}
    return [rows.get(k) for k in keys]


async def children_by_parent_ids(model, parent_field: str, order_by: str, parent_ids: list[int]) -> list[list]:
    """For each parent id, the `model` rows whose `parent_field` is it, in `order_by` order."""
    order = "id" if order_by == "id" else f"{order_by}, id"
    groups: dict[int, list] = defaultdict(list)
    for row in await sql.fetch_models(model, f"{parent_field} IN ({in_list(parent_ids)})", parent_ids,
                                      f"ORDER BY {order}"):
        groups[getattr(row, parent_field)].append(row)
    return [groups.get(i, []) for i in parent_ids]


async def open_issue_counts(asset_ids: list[int]) -> list[int]:
    """How many OPEN issues each asset has, in one grouped query."""
    counts = dict(await sql.fetch(
        f"SELECT asset_id, COUNT(*) FROM issue WHERE asset_id IN ({in_list(asset_ids)}) AND status = ?"
        " GROUP BY asset_id", [*asset_ids, IssueStatus.OPEN.value]))
    return [counts.get(i, 0) for i in asset_ids]
