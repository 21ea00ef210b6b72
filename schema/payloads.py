"""Mutation results of accounts, organizations, datasets and assets: the object, or errors."""

from __future__ import annotations

import strawberry

from stepwise.schema.types.accounts import Invitation, Membership, Organization, User
from stepwise.schema.types.assets import Asset
from stepwise.schema.types.common import UserError
from stepwise.schema.types.datasets import Dataset, DatasetVersion, DatasetWorker

ERRORS = "Why nothing was changed; empty on success."


@strawberry.type(description="The result of logOut.")
class LogOutPayload:
    revoked: bool = strawberry.field(default=False, description="True when the token of this request was revoked.")
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The result of signUp or logIn.")
class AuthPayload:
    token: str | None = strawberry.field(
        default=None,
        description="A bearer token for the Authorization header and the websocket connection_init payload.",
    )
    user: User | None = strawberry.field(default=None, description="The signed-in user.")
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The result of createOrganization.")
class OrganizationPayload:
    organization: Organization | None = strawberry.field(default=None, description="The new organization.")
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The result of inviteMember: a membership, or an invitation for an unknown address.")
class InviteMemberPayload:
    membership: Membership | None = strawberry.field(default=None, description="Set when the user joined at once.")
    invitation: Invitation | None = strawberry.field(
        default=None, description="Set when the address has no account yet."
    )
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The result of createDataset.")
class DatasetPayload:
    dataset: Dataset | None = strawberry.field(default=None, description="The new dataset.")
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The result of addDatasetWorker.")
class DatasetWorkerPayload:
    worker: DatasetWorker | None = strawberry.field(default=None, description="The worker, with their role.")
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The result of removeDatasetWorker.")
class RemoveDatasetWorkerPayload:
    dataset: Dataset | None = strawberry.field(default=None, description="The dataset, without the worker.")
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The result of createDatasetVersion.")
class DatasetVersionPayload:
    dataset_version: DatasetVersion | None = strawberry.field(default=None, description="The new version.")
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The result of addAssets.")
class AddAssetsPayload:
    assets: list[Asset] = strawberry.field(default_factory=list, description="The new assets, in input order.")
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The result of importAnnotations: what the file added, or why nothing was.")
class ImportAnnotationsPayload:
    dataset_version: DatasetVersion | None = strawberry.field(default=None, description="The version, on success.")
    assets_added: int = strawberry.field(default=0, description="New assets (COCO images).")
    assets_annotated: int = strawberry.field(default=0, description="Assets that received an annotation from the file.")
    shapes_added: int = strawberry.field(default=0, description="Shapes in those annotations.")
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS)
