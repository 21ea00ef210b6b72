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
    "dataset.removeWorker": (Scope.DATASET, frozenset({MANAGER})),
    "dataset.createVersion": (Scope.DATASET, frozenset({MANAGER})),
    "datasetVersion.read": (Scope.DATASET, frozenset({MANAGER, CONTRIBUTOR})),
    "datasetVersion.addAssets": (Scope.DATASET, frozenset({MANAGER})),
    "datasetVersion.quality": (Scope.DATASET, frozenset({MANAGER, CONTRIBUTOR})),
    "datasetVersion.import": (Scope.DATASET, frozenset({MANAGER})),
    # Downloading the accepted annotations: never a LABELER, even one whose task shows the version.
    "datasetVersion.export": (Scope.DATASET, frozenset({MANAGER, CONTRIBUTOR})),
    "label.read": (Scope.DATASET, frozenset({MANAGER, CONTRIBUTOR})),
    "asset.read": (Scope.DATASET, frozenset({MANAGER, CONTRIBUTOR})),
    # campaigns: LABELERs see a campaign (its steps and instructions) but not its lists and figures
    "campaign.read": (Scope.DATASET, frozenset({MANAGER, CONTRIBUTOR, LABELER})),
    "campaign.configure": (Scope.DATASET, frozenset({MANAGER})),
    "campaign.tasks": (Scope.DATASET, frozenset({MANAGER, CONTRIBUTOR})),
    "campaign.progress": (Scope.DATASET, frozenset({MANAGER, CONTRIBUTOR})),
    "campaign.issues": (Scope.DATASET, frozenset({MANAGER, CONTRIBUTOR})),
    "campaign.analytics": (Scope.DATASET, frozenset({MANAGER, CONTRIBUTOR})),
    # tasks: LABELERs reach only their own active tasks (a row rule on top of this table)
    "task.read": (Scope.DATASET, frozenset({MANAGER, CONTRIBUTOR})),
    "task.readOwn": (Scope.DATASET, frozenset({LABELER})),
    "task.work": (Scope.DATASET, frozenset({MANAGER, CONTRIBUTOR, LABELER})),
    "task.reassign": (Scope.DATASET, frozenset({MANAGER})),
}


# Which action guards each operation of the contract. PUBLIC needs nothing; SIGNED_IN only a valid
# token; every other value is a POLICY action checked against the object the operation names.
PUBLIC, SIGNED_IN = "public", "signedIn"
OPERATIONS: dict[str, str] = {
    "Query.me": PUBLIC,
    "Mutation.signUp": PUBLIC,
    "Mutation.logIn": PUBLIC,
    "Mutation.logOut": SIGNED_IN,
    "Query.organizations": SIGNED_IN,
    "Query.node": SIGNED_IN,
    "Query.nodes": SIGNED_IN,
    "Query.notifications": SIGNED_IN,
    "Mutation.createOrganization": SIGNED_IN,
    "Mutation.markNotificationsRead": SIGNED_IN,
    "Subscription.notifications": SIGNED_IN,
    "Query.organization": "organization.read",
    "Query.myTasks": "organization.read",
    "Query.myIssues": "organization.read",
    "Subscription.myTaskUpdates": "organization.read",
    "Organization.campaigns": "organization.read",
    "Organization.members": "organization.members",
    "Organization.eventCursor": "organization.read",
    "Organization.invitations": "organization.invitations",
    "Mutation.inviteMember": "organization.inviteMember",
    "Mutation.createDataset": "organization.createDataset",
    "User.email": "user.email",
    "Query.dataset": "dataset.read",
    "Dataset.workers": "dataset.read",
    "Dataset.versions": "dataset.read",
    "Mutation.addDatasetWorker": "dataset.addWorker",
    "Mutation.removeDatasetWorker": "dataset.removeWorker",
    "Mutation.createDatasetVersion": "dataset.createVersion",
    "Query.datasetVersion": "datasetVersion.read",
    "DatasetVersion.assets": "datasetVersion.read",
    "Mutation.addAssets": "datasetVersion.addAssets",
    "DatasetVersion.quality": "datasetVersion.quality",
    "Mutation.importAnnotations": "datasetVersion.import",
    "DatasetVersion.exportUrl": "datasetVersion.export",
    "Query.campaign": "campaign.read",
    "Campaign.eventCursor": "campaign.read",
    "Subscription.taskUpdates": "campaign.read",
    "Subscription.issueUpdates": "campaign.read",
    "Mutation.createCampaign": "campaign.configure",
    "Mutation.addStep": "campaign.configure",
    "Mutation.updateStep": "campaign.configure",
    "Mutation.removeStep": "campaign.configure",
    "Mutation.updateCampaign": "campaign.configure",
    "Mutation.uploadInstructions": "campaign.configure",
    "Mutation.launchCampaign": "campaign.configure",
    "Campaign.tasks": "campaign.tasks",
    "Campaign.progress": "campaign.progress",
    "Subscription.campaignProgress": "campaign.progress",
    "Campaign.issues": "campaign.issues",
    "Campaign.analytics": "campaign.analytics",
    "Query.task": "task.read",
    "Query.issue": "task.read",
    "Mutation.startTask": "task.work",
    "Mutation.saveAnnotation": "task.work",
    "Mutation.submitTask": "task.work",
    "Mutation.sendTaskToRework": "task.work",
    "Mutation.skipTask": "task.work",
    "Mutation.createIssue": "task.work",
    "Mutation.replyToIssue": "task.work",
    "Mutation.resolveIssue": "task.work",
    "Mutation.reopenIssue": "task.work",
    "Mutation.reassignTask": "task.reassign",
    "Mutation.reassignTasks": "task.reassign",
}
# Row rules on top of the table: a LABELER reads, works on and discusses only their own active
# tasks (task.readOwn); everyone sees their own e-mail address; Organization.datasets lists only
# the datasets Query.dataset would answer, Organization.campaigns only the campaigns Query.campaign
# would answer (permissions/visibility.py campaign_filter).

# Reading an object by global ID (Query.node, Query.nodes) is guarded like the type's root lookup
# (an Organization like Query.organization, a Step like Query.campaign, ...); these types have no
# root lookup, so their read has its own action.
NODE_ONLY_READS: dict[str, str] = {
    "Label": "label.read",
    "Asset": "asset.read",
}


def action_scope(action: str) -> Scope:
    """Whether `action` is checked against an organization role or a dataset role."""
    return POLICY[action][0]


def allows(action: str, role: OrgRole | DatasetRole | None) -> bool:
    """Whether `role` may perform `action`; unknown actions are refused (fail closed)."""
    entry = POLICY.get(action)
    return role is not None and entry is not None and role in entry[1]
