"""Datasets, their workers and versions."""

from __future__ import annotations

from tortoise.exceptions import IntegrityError

from stepwise.models.db import sql
from stepwise.models.db.accounts import Membership
from stepwise.models.db.datasets import Dataset, DatasetVersion, DatasetWorker, Label
from stepwise.models.errors import DomainError, ErrorCode, NotFound, invalid_input
from stepwise.models.validation import require_name
from stepwise.permissions.access import Access
from stepwise.permissions.operations import Operation, operation
from stepwise.permissions.roles import DatasetRole, OrgRole

MAX_LABELS = 1_000
CREATE_DATASET, ADD_WORKER, CREATE_VERSION = (
    operation("Mutation.createDataset"), operation("Mutation.addDatasetWorker"), operation("Mutation.createDatasetVersion"))


async def find_dataset(access: Access, dataset_id: int, operation: Operation) -> Dataset:
    """The dataset if the viewer may do `operation` on it; NOT_FOUND when they cannot see it at all."""
    dataset = await Dataset.get_or_none(id=dataset_id)
    if dataset is None:
        raise NotFound("Dataset")
    await access.check(operation, dataset.organization_id, dataset.id, what="Dataset")
    return dataset


async def find_version(access: Access, version_id: int, operation: Operation) -> tuple[DatasetVersion, Dataset]:
    """The version and its dataset if the viewer may do `operation`; NOT_FOUND when they cannot see it."""
    version = await DatasetVersion.get_or_none(id=version_id)
    if version is None:
        raise NotFound("DatasetVersion")
    dataset = await Dataset.get(id=version.dataset_id)
    await access.check(operation, dataset.organization_id, dataset.id, what="DatasetVersion")
    return version, dataset


async def create_dataset(access: Access, organization_id: int, name: str) -> Dataset:
    """A new dataset; its creator becomes its MANAGER."""
    viewer = access.require_viewer()
    await access.check(CREATE_DATASET, organization_id, what="Organization")
    name = require_name(name, "input.name")
    if await Dataset.filter(organization_id=organization_id, name=name).exists():
        raise DomainError(ErrorCode.ALREADY_EXISTS, "A dataset with this name exists.", "input.name")
    try:
        async with sql.transaction():
            dataset = await Dataset.create(organization_id=organization_id, name=name)
            await DatasetWorker.create(dataset=dataset, user=viewer, role=DatasetRole.MANAGER)
    except IntegrityError:
        raise DomainError(ErrorCode.ALREADY_EXISTS, "A dataset with this name exists.", "input.name") from None
    access.forget()
    return dataset


async def add_dataset_worker(
    access: Access, dataset_id: int, user_id: int, role: DatasetRole | None
) -> DatasetWorker:
    """Add a member of the dataset's organization as a worker, or change the role of one.

    UNPRIVILEGED members are always LABELER; asking for another role for one is INVALID_INPUT.
    A user outside the organization is NOT_FOUND, like one that does not exist.
    """
    dataset = await find_dataset(access, dataset_id, ADD_WORKER)
    membership = await Membership.get_or_none(organization_id=dataset.organization_id, user_id=user_id)
    if membership is None:
        raise NotFound("User")
    if membership.role is OrgRole.UNPRIVILEGED:
        if role not in (None, DatasetRole.LABELER):
            raise invalid_input("input.role", "An UNPRIVILEGED member can only be a LABELER.")
        role = DatasetRole.LABELER
    role = role or DatasetRole.CONTRIBUTOR
    async with sql.transaction():
        worker, created = await DatasetWorker.get_or_create(
            dataset=dataset, user_id=user_id, defaults={"role": role}
        )
        if not created and worker.role is not role:
            worker.role = role
            await worker.save(update_fields=["role"])
    access.forget()
    return worker


async def create_dataset_version(access: Access, dataset_id: int, name: str, labels: list[str]) -> DatasetVersion:
    """A new, empty version with its label set."""
    dataset = await find_dataset(access, dataset_id, CREATE_VERSION)
    name = require_name(name, "input.name")
    if len(labels) > MAX_LABELS:
        raise invalid_input("input.labels", f"At most {MAX_LABELS} labels.")
    label_names: list[str] = []
    for index, label in enumerate(labels):
        label_name = require_name(label, f"input.labels.{index}")
        if label_name in label_names:
            raise invalid_input(f"input.labels.{index}", f"Label {label_name!r} is listed twice.")
        label_names.append(label_name)
    if await DatasetVersion.filter(dataset=dataset, name=name).exists():
        raise DomainError(ErrorCode.ALREADY_EXISTS, "A version with this name exists.", "input.name")
    try:
        async with sql.transaction():
            version = await DatasetVersion.create(dataset=dataset, name=name)
            await Label.bulk_create([Label(version=version, name=n) for n in label_names])
    except IntegrityError:
        raise DomainError(ErrorCode.ALREADY_EXISTS, "A version with this name exists.", "input.name") from None
    return version
