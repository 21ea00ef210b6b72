"""Input types of the accounts, organizations, datasets and assets mutations."""

from __future__ import annotations

import strawberry
from strawberry.file_uploads import Upload

from stepwise.models.shapes import ShapeDraft
from stepwise.schema.bulk_inputs import install as install_bulk_inputs
from stepwise.schema.types.enums import AnnotationFormat, DatasetRole, OrgRole, ShapeKind


@strawberry.input(description="A new account.")
class SignUpInput:
    username: str = strawberry.field(description="3 to 40 letters, digits, '.', '_' or '-'.")
    email: str = strawberry.field(description="A valid e-mail address; pending invitations to it are accepted.")
    password: str = strawberry.field(description="At least 10 characters, not a common password.")


@strawberry.input(description="Credentials to exchange for a token.")
class LogInInput:
    username: str = strawberry.field(description="The account's username.")
    password: str = strawberry.field(description="The account's password.")


@strawberry.input(description="A new organization; its creator becomes its ADMIN.")
class CreateOrganizationInput:
    name: str = strawberry.field(description="1 to 200 characters.")


@strawberry.input(description="Who to add to an organization, and as what.")
class InviteMemberInput:
    organization_id: strawberry.ID = strawberry.field(description="The organization (you must be its ADMIN).")
    username_or_email: str = strawberry.field(
        description="An existing username (joins at once) or an e-mail address (joins when that address signs up)."
    )
    role: OrgRole = strawberry.field(description="Their role in the organization.")


@strawberry.input(description="A new dataset; its creator becomes its MANAGER.")
class CreateDatasetInput:
    organization_id: strawberry.ID = strawberry.field(description="The organization that will own it.")
    name: str = strawberry.field(description="1 to 200 characters, unique in the organization.")


@strawberry.input(description="A member of the organization to make a worker of a dataset.")
class AddDatasetWorkerInput:
    dataset_id: strawberry.ID = strawberry.field(description="The dataset (you must be its MANAGER).")
    user_id: strawberry.ID = strawberry.field(description="A member of the dataset's organization.")
    role: DatasetRole | None = strawberry.field(
        default=None,
        description="Defaults to CONTRIBUTOR; UNPRIVILEGED organization members are always LABELER. "
        "Given for an existing worker, changes their role.",
    )


@strawberry.input(description="A worker to take off a dataset (and off every step of its campaigns).")
class RemoveDatasetWorkerInput:
    dataset_id: strawberry.ID = strawberry.field(description="The dataset (you must be its MANAGER).")
    user_id: strawberry.ID = strawberry.field(
        description="A worker of the dataset who holds no active task and is not the last assignee of a step of a launched campaign."
    )


@strawberry.input(description="A new version of a dataset, with its labels.")
class CreateDatasetVersionInput:
    dataset_id: strawberry.ID = strawberry.field(description="The dataset (you must be its MANAGER).")
    name: str = strawberry.field(description="1 to 200 characters, unique in the dataset.")
    labels: list[str] = strawberry.field(description="Label names shapes may use; each unique, at most 1,000.")


@strawberry.input(description="A position in pixels from the asset's top-left corner.")
class PointInput:
    x: float = strawberry.field(description="From 0 to the asset's width.")
    y: float = strawberry.field(description="From 0 to the asset's height.")


@strawberry.input(description="One labelled geometry.")
class ShapeInput:
    label: str = strawberry.field(description="A label name of the asset's dataset version.")
    kind: ShapeKind = strawberry.field(description="The geometry; it decides how many points are needed.")
    points: list[PointInput] = strawberry.field(
        description="RECTANGLE: top-left then bottom-right; POLYGON: 3 or more; LINE: 2 or more; "
        "POINT: 1; CLASSIFICATION: none. All inside the asset."
    )

    def to_draft(self) -> ShapeDraft:
        return ShapeDraft(self.label, self.kind, [(p.x, p.y) for p in self.points])


@strawberry.input(description="An image to add to a version.")
class AssetInput:
    filename: str = strawberry.field(description="Unique within the version, at most 500 characters.")
    width: int = strawberry.field(description="Width in pixels, 1 to 100,000.")
    height: int = strawberry.field(description="Height in pixels, 1 to 100,000.")
    url: str | None = strawberry.field(default=None, description="Where the image can be downloaded (http(s), s3, gs).")
    shapes: list[ShapeInput] | None = strawberry.field(default=None, description="A pre-existing annotation.")


@strawberry.input(description="Assets to add to a version, all or none.")
class AddAssetsInput:
    dataset_version_id: strawberry.ID = strawberry.field(description="The version (you must be a MANAGER).")
    assets: list[AssetInput] = strawberry.field(description="1 to 10,000 assets.")


@strawberry.input(description="A COCO or YOLO file to import into a version, all or nothing (multipart request).")
class ImportAnnotationsInput:
    dataset_version_id: strawberry.ID = strawberry.field(description="The version (you must be a MANAGER).")
    format: AnnotationFormat = strawberry.field(description="The file's format.")
    file: Upload = strawberry.field(
        description="COCO: a JSON file whose images become new assets, each with its annotations as a "
        "pre-existing annotation. YOLO: a zip whose files annotate assets already in the version, "
        "matched by file name without extension."
    )


# addAssets sends up to 10,000 of these: built directly from the coerced values (bulk_inputs.py).
install_bulk_inputs(PointInput, ShapeInput, AssetInput)
