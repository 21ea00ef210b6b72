"""Root query fields of accounts, organizations, datasets and nodes."""

from __future__ import annotations

import asyncio
from typing import Annotated

import strawberry

from stepwise.models.db import accounts as accounts_db
from stepwise.models.db import datasets as datasets_db
from stepwise.models.errors import BadRequest
from stepwise.models.queries.accounts import organizations_by_name
from stepwise.permissions.graphql import guard
from stepwise.permissions.operations import operation
from stepwise.resolvers.fields.event_log import read_position_first
from stepwise.resolvers.nodes import fetch_visible, resolve_node
from stepwise.schema.context import Info
from stepwise.schema.ids import decode_id
from stepwise.schema.types.accounts import Organization, User
from stepwise.schema.types.common import Node
from stepwise.schema.types.datasets import Dataset, DatasetVersion

MAX_NODES = 100
ID_ARG = strawberry.argument(description="The object's global ID.")
ORGANIZATION, DATASET, DATASET_VERSION = (
    operation("Query.organization"), operation("Query.dataset"), operation("Query.datasetVersion"))


@strawberry.type
class AccountQueries:
    @strawberry.field(description="The authenticated user; null without credentials.", permission_classes=guard("Query.me"))
    def me(self, info: Info) -> User | None:
        viewer = info.context.viewer
        return User.from_row(viewer) if viewer else None

    @strawberry.field(description="Organizations the viewer belongs to, by name.", permission_classes=guard("Query.organizations"))
    async def organizations(self, info: Info) -> list[Organization]:
        org_ids = list(await info.context.access.org_roles())
        rows = await organizations_by_name(org_ids)
        return [Organization.from_row(row) for row in rows]

    @strawberry.field(description="An organization the viewer belongs to.", permission_classes=guard(ORGANIZATION))
    async def organization(self, info: Info, id: Annotated[strawberry.ID, ID_ARG]) -> Organization | None:
        pk = decode_id(id, "Organization")
        positions = await read_position_first(info, "Organization", pk)  # before any data: see Organization.eventCursor
        return Organization.from_row(
            await fetch_visible(info, accounts_db.Organization, pk, ORGANIZATION, "Organization"), positions
        )


@strawberry.type
class DatasetQueries:
    @strawberry.field(
        description="A dataset where the viewer is a MANAGER or CONTRIBUTOR (or an organization ADMIN).",
        permission_classes=guard(DATASET),
    )
    async def dataset(self, info: Info, id: Annotated[strawberry.ID, ID_ARG]) -> Dataset | None:
        pk = decode_id(id, "Dataset")
        return Dataset.from_row(await fetch_visible(info, datasets_db.Dataset, pk, DATASET, "Dataset"))

    @strawberry.field(description="A version of a dataset the viewer can see.", permission_classes=guard(DATASET_VERSION))
    async def dataset_version(self, info: Info, id: Annotated[strawberry.ID, ID_ARG]) -> DatasetVersion | None:
        pk = decode_id(id, "DatasetVersion")
        row = await fetch_visible(info, datasets_db.DatasetVersion, pk, DATASET_VERSION, "DatasetVersion")
        return DatasetVersion.from_row(row)


@strawberry.type
class NodeQueries:
    @strawberry.field(description="Any object by global ID, if the viewer can see it.", permission_classes=guard("Query.node"))
    async def node(self, info: Info, id: Annotated[strawberry.ID, ID_ARG]) -> Node | None:
        return await resolve_node(info, id)

    @strawberry.field(
        description="Several objects by global ID (at most 100), in the order asked; null with an error where "
        "one cannot be seen.",
        permission_classes=guard("Query.nodes"),
    )
    async def nodes(
        self, info: Info, ids: Annotated[list[strawberry.ID], strawberry.argument(description="Up to 100 IDs.")]
    ) -> list[Node | None]:
        if len(ids) > MAX_NODES:
            raise BadRequest(f"At most {MAX_NODES} IDs per call; got {len(ids)}.")
        # An exception in the list becomes null plus a located error for that item alone.
        return await asyncio.gather(*(resolve_node(info, i) for i in ids), return_exceptions=True)  # type: ignore[return-value]
