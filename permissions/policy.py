"""The policy table: which roles may do what. Data, not ifs; tests iterate it.

Organization-scoped actions are checked against the viewer's organization role; dataset-scoped
ones against the viewer's effective dataset role (organization ADMINs act as MANAGER).
An object the viewer has no role on at all is NOT_FOUND; a role outside the entry is FORBIDDEN.
"""

from __future__ import annotations

from enum import StrEnum

from stepwise.permissions.roles import DatasetRole, OrgRole

ADMIN, MEMBER, UNPRIVILEGED = OrgRole.ADMIN, OrgRole.MEMBER, OrgRole.UNPRIVILEGED
MANAGER, CONTRIBUTOR, LABELER = DatasetRole.MANAGER, DatasetRole.CONTRIBUTOR, DatasetRole.LABELER


class Scope(StrEnum):
    ORGANIZATION = "organization"
    DATASET = "dataset"


POLICY: dict[str, tuple[Scope, frozenset[OrgRole] | frozenset[DatasetRole]]] = {
    # organization
    "organization.read": (Scope.ORGANIZATION, frozenset({ADMIN, MEMBER, UNPRIVILEGED})),
    "organization.members": (Scope.ORGANIZATION, frozenset({ADMIN, MEMBER})),
    "organization.invitations": (Scope.ORGANIZATION, frozenset({ADMIN})),
    "organization.inviteMember": (Scope.ORGANIZATION, frozenset({ADMIN})),
    "organization.createDataset": (Scope.ORGANIZATION, frozenset({ADMIN, MEMBER})),
    # Another member's e-mail address (everyone sees their own).
    "user.email": (Scope.ORGANIZATION, frozenset({ADMIN})),
    # datasets and what they hold
    "dataset.read": (Scope.DATASET, frozenset({MANAGER, CONTRIBUTOR})),
    "dataset.addWorker": (Scope.DATASET, frozenset({MANAGER})),
    "dataset.createVersion": (Scope.DATASET, frozenset({MANAGER})),
    "datasetVersion.read": (Scope.DATASET, frozenset({MANAGER, CONTRIBUTOR})),
    "datasetVersion.addAssets": (Scope.DATASET, frozenset({MANAGER})),
    "label.read": (Scope.DATASET, frozenset({MANAGER, CONTRIBUTOR})),
    "asset.read": (Scope.DATASET, frozenset({MANAGER, CONTRIBUTOR})),
    # campaigns: LABELERs see a campaign (its steps and instructions) but not its lists and figures
    "campaign.read": (Scope.DATASET, frozenset({MANAGER, CONTRIBUTOR, LABELER})),
    "campaign.configure": (Scope.DATASET, frozenset({MANAGER})),
    "campaign.tasks": (Scope.DATASET, frozenset({MANAGER, CONTRIBUTOR})),
    "campaign.progress": (Scope.DATASET, frozenset({MANAGER, CONTRIBUTOR})),
    # tasks: LABELERs reach only their own active tasks (a row rule on top of this table)
    "task.read": (Scope.DATASET, frozenset({MANAGER, CONTRIBUTOR})),
    "task.readOwn": (Scope.DATASET, frozenset({LABELER})),
    "task.work": (Scope.DATASET, frozenset({MANAGER, CONTRIBUTOR, LABELER})),
    "task.reassign": (Scope.DATASET, frozenset({MANAGER})),
}


def scope_of(action: str) -> Scope:
    return POLICY[action][0]


def allows(action: str, role: OrgRole | DatasetRole | None) -> bool:
    """Whether `role` may perform `action`; unknown actions are refused (fail closed)."""
    entry = POLICY.get(action)
    return role is not None and entry is not None and role in entry[1]
