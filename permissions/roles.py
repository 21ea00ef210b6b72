"""Organization and dataset roles, and how an organization ADMIN acts as MANAGER. Pure."""

from __future__ import annotations

from enum import StrEnum


class OrgRole(StrEnum):
    ADMIN = "ADMIN"
    MEMBER = "MEMBER"
    UNPRIVILEGED = "UNPRIVILEGED"


class DatasetRole(StrEnum):
    MANAGER = "MANAGER"
    CONTRIBUTOR = "CONTRIBUTOR"
    LABELER = "LABELER"


def effective_dataset_role(org_role: OrgRole | None, worker_role: DatasetRole | None) -> DatasetRole | None:
    """The role a viewer acts with on a dataset: organization ADMINs act as MANAGER everywhere."""
    if org_role is None:
        return None  # not in the organization at all: a stale worker row grants nothing
    if org_role is OrgRole.ADMIN:
        return DatasetRole.MANAGER
    return worker_role
