"""A generated permission matrix over the real API.

For every operation of `permissions.policy.OPERATIONS` there are probes (a GraphQL document and its
variables per target object). Each probe runs for every persona against objects of the persona's own
organization, of another organization and against IDs that name nothing. The EXPECTED outcome is
computed from the tables (OPERATIONS, POLICY, the world's roles and the documented row rules), never
written per case:

- no token or a bad one: UNAUTHENTICATED, except for PUBLIC operations;
- PUBLIC and SIGNED_IN: allowed;
- a POLICY action: the persona's role in the action's scope (organization role; effective dataset role,
  an organization ADMIN acting as MANAGER). No role: NOT_FOUND; a role outside the entry: FORBIDDEN;
- row rules: a LABELER reads, works on and discusses only their own active tasks (task.readOwn), and
  a task, asset or issue the viewer cannot see is NOT_FOUND (RULES.md: NOT_FOUND is "something the
  viewer may not see", FORBIDDEN only for what they can see); everyone sees their own e-mail address,
  others' per `user.email`; `Organization.datasets` lists the datasets where `dataset.read` is allowed,
  `Organization.campaigns` the campaigns where `campaign.read` is (its `totalCount` agrees);
  a user is visible to themself and to whoever shares an organization with them.

Outcomes: a top-level error's `extensions.code` is a refusal with that code; anything else (a payload,
even with `errors`) is "allowed". NOT_IMPLEMENTED counts as allowed for operations not served yet.
Subscriptions are not executed over HTTP: their entries are covered by the websocket tests.

Also: a hidden object answers exactly like an ID that names nothing (same message, code and data).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from campaign_helpers import ISSUE, LAUNCH, add_assets, campaign_with_steps
from stepwise.permissions.policy import OPERATIONS, POLICY, PUBLIC, SIGNED_IN, Scope
from stepwise.permissions.roles import DatasetRole, OrgRole
from stepwise.schema.ids import encode_id

ALLOWED = "ALLOWED"
UNAUTHENTICATED, NOT_FOUND, FORBIDDEN = "UNAUTHENTICATED", "NOT_FOUND", "FORBIDDEN"
USER_VISIBLE = "userVisible"  # row rule: a user is visible to themself and to people sharing an organization
MISSING_PK = 987_654_321

# ---------------------------------------------------------------- the world's roles (verified against the API)

SIGNED_IN_PERSONAS = ("admin", "member", "labeler", "manager", "contributor", "outsider")
ANONYMOUS_PERSONAS = ("anonymous", "badtoken")
PERSONAS = SIGNED_IN_PERSONAS + ANONYMOUS_PERSONAS
LOG_IN = "mutation($i: LogInInput!) { logIn(input: $i) { token } }"
PASSWORD = "correct horse battery"  # every persona's (conftest.Api.sign_up)
USERNAMES = {"admin": "admin1", "member": "member1", "labeler": "labeler1", "manager": "manager1",
             "contributor": "contributor1", "outsider": "outsider1", "otherlab": "otherlab1"}
ORG_ROLES: dict[tuple[str, str], OrgRole] = {
    ("admin", "acme"): OrgRole.ADMIN,
    ("manager", "acme"): OrgRole.MEMBER,
    ("contributor", "acme"): OrgRole.MEMBER,
    ("member", "acme"): OrgRole.MEMBER,
    ("labeler", "acme"): OrgRole.UNPRIVILEGED,
    ("outsider", "other"): OrgRole.ADMIN,
    ("otherlab", "other"): OrgRole.UNPRIVILEGED,
}
DATASET_ORG = {"streets": "acme", "parks": "acme", "theirs": "other"}
WORKERS: dict[tuple[str, str], DatasetRole] = {
    ("manager", "streets"): DatasetRole.MANAGER,  # created it
    ("contributor", "streets"): DatasetRole.CONTRIBUTOR,
    ("labeler", "streets"): DatasetRole.LABELER,
    ("contributor", "parks"): DatasetRole.MANAGER,  # created it
    ("outsider", "theirs"): DatasetRole.MANAGER,  # created it
    ("otherlab", "theirs"): DatasetRole.LABELER,
}
# Operations not served yet: NOT_IMPLEMENTED stands for "allowed" there.
NOT_SERVED = {"Mutation.uploadInstructions"}
SUBSCRIPTIONS_SKIP_REASON = "subscriptions are not executed over HTTP POST; the websocket tests cover them"


def org_role(persona: str, org: str | None) -> OrgRole | None:
    return ORG_ROLES.get((persona, org)) if org else None


def dataset_role(persona: str, dataset: str | None) -> DatasetRole | None:
    """The effective dataset role: none outside the organization, MANAGER for its ADMINs."""
    if dataset is None:
        return None
    in_org = org_role(persona, DATASET_ORG[dataset])
    if in_org is None:
        return None
    if in_org is OrgRole.ADMIN:
        return DatasetRole.MANAGER
    return WORKERS.get((persona, dataset))


def orgs_of(user: str) -> set[str]:
    return {org for (who, org) in ORG_ROLES if who == user}


# ---------------------------------------------------------------- objects


@dataclass
class Obj:
    key: str
    type: str
    gid: str
    org: str | None = None
    dataset: str | None = None
    # Row-ruled objects (tasks, their assets and issues): the action that shows all of them, who holds
    # the task now and whether it is active.
    read: str | None = None
    owner: str | None = None
    active: bool = False
    rel: dict[str, str] = field(default_factory=dict)
    data: dict = field(default_factory=dict)


class Objects(dict):
    def missing(self, type_name: str) -> Obj:
        key = f"missing:{type_name}"
        if key not in self:
            self[key] = Obj(key, type_name, encode_id(type_name, MISSING_PK))
        return self[key]

    def rel(self, obj: Obj, name: str, type_name: str) -> Obj:
        """A related object; for a missing object a missing one of the related type."""
        return self[obj.rel[name]] if name in obj.rel else self.missing(type_name)

    def of_type(self, type_name: str, with_missing: bool = True) -> list[str]:
        keys = [k for k, o in self.items() if o.type == type_name and not k.startswith("missing:")]
        return keys + ([self.missing(type_name).key] if with_missing else [])


# ---------------------------------------------------------------- expectations (from the tables)


def check(policy: dict, objects: Objects, persona: str, action: str, key: str | None) -> str:
    """One step of a chain: ALLOWED, NOT_FOUND or FORBIDDEN."""
    if action in (PUBLIC, SIGNED_IN):
        return ALLOWED
    obj = objects[key]
    if action == USER_VISIBLE:
        user = obj.data.get("persona")
        if user is not None and (user == persona or orgs_of(user) & orgs_of(persona)):
            return ALLOWED
        return NOT_FOUND
    scope, roles = policy[action]
    role = org_role(persona, obj.org) if scope is Scope.ORGANIZATION else dataset_role(persona, obj.dataset)
    if role is None:
        return NOT_FOUND
    if obj.read is not None:  # row rule: tasks, their assets and issues
        sees_all = role in policy[obj.read][1]
        sees_own = role in policy["task.readOwn"][1] and obj.owner == persona and obj.active
        if not (sees_all or sees_own):
            return NOT_FOUND
        if action == obj.read:
            return ALLOWED
    return ALLOWED if role in roles else FORBIDDEN


def expect_chain(policy: dict, objects: Objects, persona: str, chain: list[tuple[str, str | None]]) -> str:
    if persona in ANONYMOUS_PERSONAS:
        return ALLOWED if chain[0][0] == PUBLIC else UNAUTHENTICATED
    for action, key in chain:
        outcome = check(policy, objects, persona, action, key)
        if outcome != ALLOWED:
            return outcome
    return ALLOWED


def email_visible(policy: dict, persona: str, user: str) -> bool:
    if persona == user:
        return True
    scope, roles = policy[OPERATIONS["User.email"]]
    assert scope is Scope.ORGANIZATION
    return any(org_role(persona, org) in roles for org in orgs_of(user))


# ---------------------------------------------------------------- probes


@dataclass
class Probe:
    op: str
    query: str
    targets: list[str | None]
    variables: Callable[[Obj | None], dict]
    chain: Callable[[Obj | None], list[tuple[str, str | None]]]
    label: str = ""
    kind: str = "plain"  # plain | email | datasets | campaigns | upload | logout
    payload: frozenset | None = None  # the payload error codes a mutation may answer (None: not a mutation)
    allow_empty: bool = False  # email probes: whether an allowed answer may list no user


def on(op: str, key: str | None) -> tuple[str, str | None]:
    """The chain step of operation `op` of the tables on object `key`."""
    return OPERATIONS[op], key


def payload_of(*codes: str | None) -> frozenset:
    return frozenset(codes)


NODE_READ = {
    "Organization": "Query.organization", "Dataset": "Query.dataset", "DatasetVersion": "Query.datasetVersion",
    "Campaign": "Query.campaign", "Step": "Query.campaign", "Task": "Query.task", "Issue": "Query.issue",
}
NODE_READ_ACTIONS = {"Label": "label.read", "Asset": "asset.read", "User": USER_VISIBLE}
NODE_TYPES = ["Organization", "User", "Dataset", "DatasetVersion", "Label", "Asset", "Campaign", "Step", "Task", "Issue"]
LONG_BODY = "x" * 10_001
TASK_MUTATIONS = {
    "Mutation.startTask": ("startTask", "TaskInput", {}),
    "Mutation.saveAnnotation": ("saveAnnotation", "SaveAnnotationInput", {"shapes": []}),
    "Mutation.submitTask": ("submitTask", "SubmitTaskInput", {}),
    "Mutation.sendTaskToRework": ("sendTaskToRework", "SendToReworkInput", {}),
    "Mutation.skipTask": ("skipTask", "SkipTaskInput", {}),
}


def node_chain(obj: Obj) -> list[tuple[str, str | None]]:
    action = OPERATIONS[NODE_READ[obj.type]] if obj.type in NODE_READ else NODE_READ_ACTIONS[obj.type]
    return [(OPERATIONS["Query.node"], None), (action, obj.key)]


def build_probes(W: Objects, users: dict[str, str]) -> list[Probe]:
    """Every probe of the matrix. `users`: persona key -> User global ID."""
    P: list[Probe] = []
    orgs, datasets, versions = W.of_type("Organization"), W.of_type("Dataset"), W.of_type("DatasetVersion")
    campaigns, steps, tasks, issues = W.of_type("Campaign"), W.of_type("Step"), W.of_type("Task"), W.of_type("Issue")
    open_issues = [k for k in issues if W[k].data.get("status") == "OPEN"] + [W.missing("Issue").key]
    resolved_issues = [k for k in issues if W[k].data.get("status") == "RESOLVED"] + [W.missing("Issue").key]
    user_keys = W.of_type("User")

    def add(op, query, targets, variables, chain, **kw):
        P.append(Probe(op, query, list(targets), variables, chain, **kw))

    # -- PUBLIC
    add("Query.me", "query { me { id username } }", [None], lambda o: {}, lambda o: [on("Query.me", None)])
    add("Mutation.signUp", "mutation($i: SignUpInput!) { signUp(input: $i) { token errors { code } } }", [None],
        lambda o: {"i": {"username": "labeler1", "email": "someone.new@example.com", "password": "correct horse battery"}},
        lambda o: [on("Mutation.signUp", None)], payload=payload_of("ALREADY_EXISTS"))
    add("Mutation.logIn", "mutation($i: LogInInput!) { logIn(input: $i) { token errors { code } } }", [None],
        lambda o: {"i": {"username": "labeler1", "password": "not the right password"}},
        lambda o: [on("Mutation.logIn", None)], payload=payload_of("INVALID_CREDENTIALS"))

    # -- SIGNED_IN
    add("Mutation.logOut", "mutation { logOut { revoked errors { code } } }", [None], lambda o: {},
        lambda o: [on("Mutation.logOut", None)], kind="logout", payload=payload_of(None))
    add("Query.organizations", "query { organizations { id name viewerRole } }", [None], lambda o: {},
        lambda o: [on("Query.organizations", None)])
    add("Query.notifications", "query { notifications(unreadOnly: true) { id } }", [None], lambda o: {},
        lambda o: [on("Query.notifications", None)])
    add("Mutation.createOrganization",
        "mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { organization { id } errors { code } } }",
        [None], lambda o: {"i": {"name": "   "}}, lambda o: [on("Mutation.createOrganization", None)],
        payload=payload_of("INVALID_INPUT"))
    add("Mutation.markNotificationsRead",
        "mutation($i: MarkNotificationsReadInput!) { markNotificationsRead(input: $i) { notifications { id } errors { code } } }",
        [None], lambda o: {"i": {"ids": []}}, lambda o: [on("Mutation.markNotificationsRead", None)],
        payload=payload_of(None))
    node_targets = [k for t in NODE_TYPES for k in W.of_type(t)]
    add("Query.node", "query($id: ID!) { node(id: $id) { id __typename } }", node_targets,
        lambda o: {"id": o.gid}, node_chain)
    add("Query.nodes", "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", node_targets,
        lambda o: {"ids": [o.gid]}, node_chain)

    # -- organization
    add("Query.organization", "query($id: ID!) { organization(id: $id) { id name viewerRole } }", orgs,
        lambda o: {"id": o.gid}, lambda o: [on("Query.organization", o.key)])
    add("Query.organization", "query($id: ID!) { organization(id: $id) { datasets { id } } }", orgs,
        lambda o: {"id": o.gid}, lambda o: [on("Query.organization", o.key)], kind="datasets",
        label="Organization.datasets row rule")
    add("Organization.campaigns",
        "query($id: ID!) { organization(id: $id) { campaigns { totalCount edges { node { id } } } } }", orgs,
        lambda o: {"id": o.gid}, lambda o: [on("Query.organization", o.key), on("Organization.campaigns", o.key)],
        kind="campaigns", label="Organization.campaigns row rule")
    add("Query.myTasks", "query($o: ID!) { myTasks(organizationId: $o) { campaign { id } tasks { id } } }", orgs,
        lambda o: {"o": o.gid}, lambda o: [on("Query.myTasks", o.key)])
    add("Query.myIssues", "query($o: ID!) { myIssues(organizationId: $o) { id } }", orgs,
        lambda o: {"o": o.gid}, lambda o: [on("Query.myIssues", o.key)])
    add("Organization.members", "query($id: ID!) { organization(id: $id) { members { role user { username } } } }",
        orgs, lambda o: {"id": o.gid}, lambda o: [on("Query.organization", o.key), on("Organization.members", o.key)])
    add("Organization.eventCursor", "query($id: ID!) { organization(id: $id) { eventCursor } }",
        orgs, lambda o: {"id": o.gid}, lambda o: [on("Query.organization", o.key), on("Organization.eventCursor", o.key)])
    add("Organization.invitations", "query($id: ID!) { organization(id: $id) { invitations { email role } } }",
        orgs, lambda o: {"id": o.gid},
        lambda o: [on("Query.organization", o.key), on("Organization.invitations", o.key)])
    add("Mutation.inviteMember",
        "mutation($i: InviteMemberInput!) { inviteMember(input: $i) { membership { role } errors { code } } }", orgs,
        lambda o: {"i": {"organizationId": o.gid, "usernameOrEmail": o.data.get("member_username", "member1"),
                         "role": "MEMBER"}},
        lambda o: [on("Mutation.inviteMember", o.key)], payload=payload_of("ALREADY_EXISTS"))
    add("Mutation.createDataset",
        "mutation($i: CreateDatasetInput!) { createDataset(input: $i) { dataset { id } errors { code } } }", orgs,
        lambda o: {"i": {"organizationId": o.gid, "name": o.data.get("dataset_name", "Streets")}},
        lambda o: [on("Mutation.createDataset", o.key)], payload=payload_of("ALREADY_EXISTS"))

    # -- User.email: visible per the table, else null (never an error)
    add("User.email", "query { me { username email } }", [None], lambda o: {}, lambda o: [on("Query.me", None)],
        kind="email", allow_empty=True, label="me")
    add("User.email", "query($id: ID!) { node(id: $id) { ... on User { username email } } }", user_keys,
        lambda o: {"id": o.gid}, node_chain, kind="email", label="node")
    add("User.email", "query($id: ID!) { organization(id: $id) { members { user { username email } } } }", orgs,
        lambda o: {"id": o.gid}, lambda o: [on("Query.organization", o.key), on("Organization.members", o.key)],
        kind="email", label="members")
    add("User.email", "query($id: ID!) { campaign(id: $id) { steps { assignees { username email } } } }", campaigns,
        lambda o: {"id": o.gid}, lambda o: [on("Query.campaign", o.key)], kind="email", label="step assignees")
    add("User.email", "query($id: ID!) { task(id: $id) { assignee { username email } } }", tasks,
        lambda o: {"id": o.gid}, lambda o: [on("Query.task", o.key)], kind="email", allow_empty=True,
        label="task assignee")

    # -- datasets
    add("Query.dataset", "query($id: ID!) { dataset(id: $id) { id name viewerRole } }", datasets,
        lambda o: {"id": o.gid}, lambda o: [on("Query.dataset", o.key)])
    for op, selection in (("Dataset.workers", "workers { role user { username } }"), ("Dataset.versions", "versions { id }")):
        add(op, f"query($id: ID!) {{ dataset(id: $id) {{ {selection} }} }}", datasets, lambda o: {"id": o.gid},
            lambda o, op=op: [on("Query.dataset", o.key), on(op, o.key)], label="dataset(id)")
        add(op, f"query($id: ID!) {{ campaign(id: $id) {{ datasetVersion {{ dataset {{ {selection} }} }} }} }}",
            campaigns, lambda o: {"id": o.gid},
            lambda o, op=op: [on("Query.campaign", o.key), on(op, W.rel(o, "dataset", "Dataset").key)],
            label="campaign.datasetVersion.dataset")
        add(op, f"query($id: ID!) {{ task(id: $id) {{ campaign {{ datasetVersion {{ dataset {{ {selection} }} }} }} }} }}",
            tasks, lambda o: {"id": o.gid},
            lambda o, op=op: [on("Query.task", o.key), on(op, W.rel(o, "dataset", "Dataset").key)],
            label="task.campaign.datasetVersion.dataset")
    add("Mutation.addDatasetWorker",
        "mutation($i: AddDatasetWorkerInput!) { addDatasetWorker(input: $i) { worker { role } errors { code } } }",
        datasets,
        lambda o: {"i": {"datasetId": o.gid, "userId": users[o.data.get("unprivileged", "labeler")], "role": "MANAGER"}},
        lambda o: [on("Mutation.addDatasetWorker", o.key)], payload=payload_of("INVALID_INPUT"))
    add("Mutation.removeDatasetWorker",  # member1 is a worker of no dataset: refused, nothing changes
        "mutation($i: RemoveDatasetWorkerInput!) { removeDatasetWorker(input: $i) { dataset { id } errors { code } } }",
        datasets, lambda o: {"i": {"datasetId": o.gid, "userId": users["member"]}},
        lambda o: [on("Mutation.removeDatasetWorker", o.key)], payload=payload_of("NOT_A_WORKER"))
    add("Mutation.createDatasetVersion",
        "mutation($i: CreateDatasetVersionInput!) { createDatasetVersion(input: $i) { datasetVersion { id } errors { code } } }",
        datasets, lambda o: {"i": {"datasetId": o.gid, "name": o.data.get("version_name", "v1"), "labels": ["car"]}},
        lambda o: [on("Mutation.createDatasetVersion", o.key)], payload=payload_of("ALREADY_EXISTS"))

    # -- versions and assets
    add("Query.datasetVersion", "query($id: ID!) { datasetVersion(id: $id) { id name assetCount } }", versions,
        lambda o: {"id": o.gid}, lambda o: [on("Query.datasetVersion", o.key)])
    add("DatasetVersion.assets", "query($id: ID!) { datasetVersion(id: $id) { assets(first: 5) { totalCount } } }",
        versions, lambda o: {"id": o.gid},
        lambda o: [on("Query.datasetVersion", o.key), on("DatasetVersion.assets", o.key)], label="datasetVersion(id)")
    add("DatasetVersion.assets", "query($id: ID!) { campaign(id: $id) { datasetVersion { assets(first: 5) { totalCount } } } }",
        campaigns, lambda o: {"id": o.gid},
        lambda o: [on("Query.campaign", o.key), on("DatasetVersion.assets", W.rel(o, "version", "DatasetVersion").key)],
        label="campaign.datasetVersion")
    add("DatasetVersion.assets",
        "query($id: ID!) { task(id: $id) { campaign { datasetVersion { assets(first: 5) { totalCount } } } } }",
        tasks, lambda o: {"id": o.gid},
        lambda o: [on("Query.task", o.key), on("DatasetVersion.assets", W.rel(o, "version", "DatasetVersion").key)],
        label="task.campaign.datasetVersion")
    quality = "quality(bins: 2) { shapesByLabel { count } assetAreas { count } }"
    add("DatasetVersion.quality", f"query($id: ID!) {{ datasetVersion(id: $id) {{ {quality} }} }}", versions,
        lambda o: {"id": o.gid},
        lambda o: [on("Query.datasetVersion", o.key), on("DatasetVersion.quality", o.key)], label="datasetVersion(id)")
    add("DatasetVersion.quality", f"query($id: ID!) {{ campaign(id: $id) {{ datasetVersion {{ {quality} }} }} }}",
        campaigns, lambda o: {"id": o.gid},
        lambda o: [on("Query.campaign", o.key), on("DatasetVersion.quality", W.rel(o, "version", "DatasetVersion").key)],
        label="campaign.datasetVersion")
    # A LABELER reaches the version through their own task: FORBIDDEN there too.
    add("DatasetVersion.quality", f"query($id: ID!) {{ task(id: $id) {{ campaign {{ datasetVersion {{ {quality} }} }} }} }}",
        tasks, lambda o: {"id": o.gid},
        lambda o: [on("Query.task", o.key), on("DatasetVersion.quality", W.rel(o, "version", "DatasetVersion").key)],
        label="task.campaign.datasetVersion")
    # exportUrl: the same three ways to reach a version; the LABELER's task path is FORBIDDEN too.
    export = "exportUrl(format: COCO)"
    add("DatasetVersion.exportUrl", f"query($id: ID!) {{ datasetVersion(id: $id) {{ {export} }} }}", versions,
        lambda o: {"id": o.gid},
        lambda o: [on("Query.datasetVersion", o.key), on("DatasetVersion.exportUrl", o.key)], label="datasetVersion(id)")
    add("DatasetVersion.exportUrl", f"query($id: ID!) {{ campaign(id: $id) {{ datasetVersion {{ {export} }} }} }}",
        campaigns, lambda o: {"id": o.gid},
        lambda o: [on("Query.campaign", o.key), on("DatasetVersion.exportUrl", W.rel(o, "version", "DatasetVersion").key)],
        label="campaign.datasetVersion")
    add("DatasetVersion.exportUrl", f"query($id: ID!) {{ task(id: $id) {{ campaign {{ datasetVersion {{ {export} }} }} }} }}",
        tasks, lambda o: {"id": o.gid},
        lambda o: [on("Query.task", o.key), on("DatasetVersion.exportUrl", W.rel(o, "version", "DatasetVersion").key)],
        label="task.campaign.datasetVersion")
    # The probe's file is a PDF: past the permission check, a COCO import refuses it by its bytes.
    add("Mutation.importAnnotations",
        "mutation($i: ImportAnnotationsInput!) { importAnnotations(input: $i) { assetsAdded errors { code } } }", versions,
        lambda o: {"i": {"datasetVersionId": o.gid, "format": "COCO", "file": None}},
        lambda o: [on("Mutation.importAnnotations", o.key)], kind="upload", payload=payload_of("UNSUPPORTED_FILE_TYPE"))
    add("Mutation.addAssets",
        "mutation($i: AddAssetsInput!) { addAssets(input: $i) { assets { id } errors { code } } }", versions,
        lambda o: {"i": {"datasetVersionId": o.gid, "assets": [{"filename": "zero.jpg", "width": 0, "height": 10}]}},
        lambda o: [on("Mutation.addAssets", o.key)], payload=payload_of("INVALID_INPUT"))

    # -- campaigns
    add("Query.campaign", "query($id: ID!) { campaign(id: $id) { id status steps { name } } }", campaigns,
        lambda o: {"id": o.gid}, lambda o: [on("Query.campaign", o.key)])
    add("Mutation.createCampaign",
        "mutation($i: CreateCampaignInput!) { createCampaign(input: $i) { campaign { id } errors { code } } }", versions,
        lambda o: {"i": {"datasetVersionId": o.gid}}, lambda o: [on("Mutation.createCampaign", o.key)],
        payload=payload_of("ALREADY_EXISTS"))
    step_payload = "step { id } errors { code }"
    add("Mutation.addStep", f"mutation($i: AddStepInput!) {{ addStep(input: $i) {{ {step_payload} }} }}", campaigns,
        lambda o: {"i": {"campaignId": o.gid, "name": "Extra", "type": "REVIEW", "assigneeIds": []}},
        lambda o: [on("Mutation.addStep", o.key)], payload=payload_of("INVALID_STATE"))
    add("Mutation.updateStep", f"mutation($i: UpdateStepInput!) {{ updateStep(input: $i) {{ {step_payload} }} }}", steps,
        lambda o: {"i": {"stepId": o.gid, "type": o.data.get("other_type", "REVIEW")}},
        lambda o: [on("Mutation.updateStep", o.key)], payload=payload_of("INVALID_STATE"))
    add("Mutation.removeStep", f"mutation($i: RemoveStepInput!) {{ removeStep(input: $i) {{ {step_payload} }} }}", steps,
        lambda o: {"i": {"stepId": o.gid}}, lambda o: [on("Mutation.removeStep", o.key)],
        payload=payload_of("INVALID_STATE"))
    add("Mutation.updateCampaign",
        "mutation($i: UpdateCampaignInput!) { updateCampaign(input: $i) { campaign { id } errors { code } } }", campaigns,
        lambda o: {"i": {"campaignId": o.gid, "dueDate": "2031-01-01T00:00:00Z", "clearDueDate": True}},
        lambda o: [on("Mutation.updateCampaign", o.key)], payload=payload_of("INVALID_INPUT"), label="due date clash")
    add("Mutation.updateCampaign",
        "mutation($i: UpdateCampaignInput!) { updateCampaign(input: $i) { campaign { id } errors { code } } }", campaigns,
        lambda o: {"i": {"campaignId": o.gid, "preexistingAnnotationStrategy": "DONE"}},
        lambda o: [on("Mutation.updateCampaign", o.key)], payload=payload_of("INVALID_STATE"), label="strategy after launch")
    add("Mutation.uploadInstructions",
        "mutation($i: UploadInstructionsInput!) { uploadInstructions(input: $i) { campaign { id } errors { code } } }",
        campaigns, lambda o: {"i": {"campaignId": o.gid, "file": None}},
        lambda o: [on("Mutation.uploadInstructions", o.key)], kind="upload", payload=payload_of(None))
    add("Mutation.launchCampaign",
        "mutation($i: LaunchCampaignInput!) { launchCampaign(input: $i) { campaign { id } errors { code } } }", campaigns,
        lambda o: {"i": {"campaignId": o.gid}}, lambda o: [on("Mutation.launchCampaign", o.key)],
        payload=payload_of("INVALID_STATE"))
    for op, selection in (
        ("Campaign.tasks", "tasks(first: 5) { totalCount }"),
        ("Campaign.progress", "progress { percent }"),
        ("Campaign.issues", "issues(first: 5) { totalCount }"),
        ("Campaign.analytics", "analytics { efficiency { issuesOpened } }"),
        ("Campaign.eventCursor", "eventCursor"),
    ):
        add(op, f"query($id: ID!) {{ campaign(id: $id) {{ {selection} }} }}", campaigns, lambda o: {"id": o.gid},
            lambda o, op=op: [on("Query.campaign", o.key), on(op, o.key)], label="campaign(id)")
        add(op, f"query($id: ID!) {{ task(id: $id) {{ campaign {{ {selection} }} }} }}", tasks, lambda o: {"id": o.gid},
            lambda o, op=op: [on("Query.task", o.key), on(op, W.rel(o, "campaign", "Campaign").key)],
            label="task(id).campaign")

    # -- tasks and issues
    add("Query.task", "query($id: ID!) { task(id: $id) { id status } }", tasks, lambda o: {"id": o.gid},
        lambda o: [on("Query.task", o.key)])
    add("Query.issue", "query($id: ID!) { issue(id: $id) { id status } }", issues, lambda o: {"id": o.gid},
        lambda o: [on("Query.issue", o.key)])
    for op, (name, input_type, extra) in TASK_MUTATIONS.items():
        query = f"mutation($i: {input_type}!) {{ {name}(input: $i) {{ task {{ id }} errors {{ code }} }} }}"
        # A stale expectedVersion: CONFLICT for whoever may act, after the permission checks; nothing changes.
        add(op, query, tasks, lambda o, extra=extra: {"i": {"taskId": o.gid, "expectedVersion": -1, **extra}},
            lambda o, op=op: [on(op, o.key)], payload=payload_of("CONFLICT"), label="stale version")
        if op in ("Mutation.startTask", "Mutation.saveAnnotation"):
            # Harmless when it succeeds (the assignee starts or saves an empty draft); NOT_ASSIGNEE for others.
            add(op, query, tasks, lambda o, extra=extra: {"i": {"taskId": o.gid, **extra}},
                lambda o, op=op: [on(op, o.key)], payload=payload_of(None, "NOT_ASSIGNEE", "INVALID_STATE"),
                label="plain")
    issue_payload = "issue { id } errors { code }"
    add("Mutation.createIssue", f"mutation($i: CreateIssueInput!) {{ createIssue(input: $i) {{ {issue_payload} }} }}",
        tasks,  # the asset of each task: issues are reachable exactly like the asset's task
        lambda o: {"i": {"assetId": W.rel(o, "asset", "Asset").gid, "kind": "ZONE", "body": "no zone given"}},
        lambda o: [on("Mutation.createIssue", o.key)], payload=payload_of("INVALID_INPUT"))
    add("Mutation.replyToIssue", f"mutation($i: CommentIssueInput!) {{ replyToIssue(input: $i) {{ {issue_payload} }} }}",
        issues, lambda o: {"i": {"issueId": o.gid, "body": "  "}}, lambda o: [on("Mutation.replyToIssue", o.key)],
        payload=payload_of("INVALID_INPUT"))
    for op, name, same_state, other_state in (
        ("Mutation.resolveIssue", "resolveIssue", resolved_issues, open_issues),
        ("Mutation.reopenIssue", "reopenIssue", open_issues, resolved_issues),
    ):
        query = f"mutation($i: CommentIssueInput!) {{ {name}(input: $i) {{ {issue_payload} }} }}"
        add(op, query, same_state, lambda o: {"i": {"issueId": o.gid}}, lambda o, op=op: [on(op, o.key)],
            payload=payload_of("INVALID_STATE"), label="already in that state")
        add(op, query, other_state, lambda o: {"i": {"issueId": o.gid, "body": LONG_BODY}},
            lambda o, op=op: [on(op, o.key)], payload=payload_of("INVALID_INPUT"), label="body too long")
    add("Mutation.reassignTask",
        "mutation($i: ReassignTaskInput!) { reassignTask(input: $i) { task { id } errors { code } } }", tasks,
        lambda o: {"i": {"taskId": o.gid, "assigneeId": users["member"]}},  # never a worker: NOT_A_WORKER
        lambda o: [on("Mutation.reassignTask", o.key)], payload=payload_of("NOT_A_WORKER", "INVALID_STATE"))
    add("Mutation.reassignTasks",
        "mutation($i: ReassignTasksInput!) { reassignTasks(input: $i) { tasks { id } errors { code } } }", tasks,
        lambda o: {"i": {"stepId": W.rel(o, "wrong_step", "Step").gid, "taskIds": [o.gid], "assigneeId": users["member"]}},
        lambda o: [on("Mutation.reassignTasks", o.key)], payload=payload_of("WRONG_STEP", "INVALID_STATE", "NOT_A_WORKER"))
    return P


# ---------------------------------------------------------------- running


@dataclass
class Report:
    cases: int = 0
    hiding_comparisons: int = 0
    mismatches: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    by_op: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_expected: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    detail_checks: int = 0  # e-mail visibility, dataset lists and payload codes checked inside allowed answers


def outcome_of(body: dict, not_served: bool) -> tuple[str, str]:
    """(outcome, raw code): ALLOWED or the top-level error code."""
    errors = body.get("errors") or []
    if not errors:
        return ALLOWED, ALLOWED
    codes = {(e.get("extensions") or {}).get("code") for e in errors}
    if None in codes:
        return "UNCODED", "; ".join(e.get("message", "") for e in errors)
    if len(codes) > 1:
        raw = "MIXED " + ",".join(sorted(codes))
        return raw, raw
    code = codes.pop()
    if code == "NOT_IMPLEMENTED" and not_served:
        return ALLOWED, code
    return code, code


def hidden_answer(body: dict) -> tuple:
    """What must not tell a hidden object from a missing one."""
    errors = sorted(
        (e.get("message"), (e.get("extensions") or {}).get("code"), tuple(e.get("path") or ())) for e in body.get("errors") or []
    )
    return json.dumps(body.get("data"), sort_keys=True), errors


def emails_in(value, found: dict[str, bool]) -> None:
    if isinstance(value, dict):
        if "username" in value and "email" in value:
            found[value["username"]] = value["email"] is not None
        for item in value.values():
            emails_in(item, found)
    elif isinstance(value, list):
        for item in value:
            emails_in(item, found)


def payload_codes(body: dict) -> set:
    payload = next(iter((body.get("data") or {}).values()), None) or {}
    errors = payload.get("errors") or []
    return {e["code"] for e in errors} or {None}


class Matrix:
    def __init__(self, api, tokens: dict[str, str | None], objects: Objects, users: dict[str, str], policy: dict):
        self.api, self.tokens, self.W, self.users, self.policy = api, tokens, objects, users, policy
        self.usernames = {name: key for key, name in USERNAMES.items()}

    async def send(self, probe: Probe, variables: dict, persona: str) -> dict:
        token = self.tokens[persona]
        if probe.kind == "logout" and persona in USERNAMES:  # revoke a token of its own, not the persona's
            logged_in = await self.api.data(LOG_IN, {"i": {"username": USERNAMES[persona], "password": PASSWORD}})
            token = logged_in["logIn"]["token"]
        if probe.kind != "upload":
            return await self.api.post(probe.query, variables, token)
        operations = json.dumps({"query": probe.query, "variables": variables})
        files = {"0": ("instructions.pdf", b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n", "application/pdf")}
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = await self.api.client.post(
            "/graphql", data={"operations": operations, "map": json.dumps({"0": ["variables.i.file"]})},
            files=files, headers=headers,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def describe(self, probe: Probe, obj: Obj | None, persona: str) -> str:
        where = f" [{probe.label}]" if probe.label else ""
        return f"{probe.op}{where} on {obj.key if obj else '-'} as {persona}"

    async def run(self, probes: list[Probe], report: Report) -> None:
        for probe in probes:
            answers: dict[tuple[str, str | None], dict] = {}
            expectations: dict[tuple[str, str | None], str] = {}
            for key in probe.targets:
                obj = self.W[key] if key is not None else None
                variables = probe.variables(obj)
                chain = probe.chain(obj)
                for persona in PERSONAS:
                    body = await self.send(probe, variables, persona)
                    expected = expect_chain(self.policy, self.W, persona, chain)
                    got, raw = outcome_of(body, probe.op in NOT_SERVED)
                    answers[persona, key], expectations[persona, key] = body, expected
                    report.cases += 1
                    report.by_op[probe.op] += 1
                    report.by_expected[expected] += 1
                    case = self.describe(probe, obj, persona)
                    if got != expected:
                        report.mismatches.append(f"{case}: expected {expected}, got {raw}")
                        continue
                    if got != ALLOWED:
                        continue
                    if probe.payload is not None and raw == ALLOWED:
                        codes = payload_codes(body)
                        report.detail_checks += 1
                        if not codes <= probe.payload:
                            report.mismatches.append(
                                f"{case}: payload errors {sorted(map(str, codes))}, probe expects {sorted(map(str, probe.payload))}")
                    if probe.kind == "email" and persona in SIGNED_IN_PERSONAS:
                        self.compare_emails(probe, case, persona, body, report)
                    if probe.kind == "datasets":
                        self.compare_datasets(case, obj, persona, body, report)
                    if probe.kind == "campaigns":
                        self.compare_campaigns(case, obj, persona, body, report)
            self.compare_hidden(probe, answers, expectations, report)

    def compare_emails(self, probe: Probe, case: str, persona: str, body: dict, report: Report) -> None:
        found: dict[str, bool] = {}
        emails_in(body.get("data"), found)
        report.detail_checks += len(found)
        if not found and not probe.allow_empty:
            report.mismatches.append(f"{case}: allowed but no user listed (the e-mail probe saw nothing)")
        for username, visible in sorted(found.items()):
            should = email_visible(self.policy, persona, self.usernames[username])
            if visible != should:
                report.mismatches.append(
                    f"{case}: email of {username} expected {'visible' if should else 'null'}, got {'visible' if visible else 'null'}")

    def compare_datasets(self, case: str, obj: Obj, persona: str, body: dict, report: Report) -> None:
        listed = {d["id"] for d in body["data"]["organization"]["datasets"]}
        report.detail_checks += 1
        should = {self.W[k].gid for k in self.W.of_type("Dataset", with_missing=False)
                  if self.W[k].org == obj.org and check(self.policy, self.W, persona, "dataset.read", k) == ALLOWED}
        if listed != should:
            names = {self.W[k].gid: k for k in self.W.of_type("Dataset", with_missing=False)}
            report.mismatches.append(f"{case}: datasets listed {sorted(names.get(g, g) for g in listed)}, "
                                     f"expected {sorted(names[g] for g in should)}")

    def compare_campaigns(self, case: str, obj: Obj, persona: str, body: dict, report: Report) -> None:
        page = body["data"]["organization"]["campaigns"]
        listed = [edge["node"]["id"] for edge in page["edges"]]
        report.detail_checks += 1
        should = {self.W[k].gid for k in self.W.of_type("Campaign", with_missing=False)
                  if self.W[k].org == obj.org and check(self.policy, self.W, persona, "campaign.read", k) == ALLOWED}
        if set(listed) != should or len(listed) != page["totalCount"]:
            names = {self.W[k].gid: k for k in self.W.of_type("Campaign", with_missing=False)}
            report.mismatches.append(f"{case}: campaigns listed {sorted(names.get(g, g) for g in listed)} "
                                     f"(totalCount {page['totalCount']}), expected {sorted(names[g] for g in should)}")

    def compare_hidden(self, probe: Probe, answers: dict, expectations: dict, report: Report) -> None:
        """Anything expected NOT_FOUND must answer exactly like an ID that names nothing."""
        for (persona, key), expected in expectations.items():
            if expected != NOT_FOUND or key is None or key.startswith("missing:"):
                continue
            missing = f"missing:{self.W[key].type}"
            if missing not in probe.targets:
                continue
            report.hiding_comparisons += 1
            hidden, absent = hidden_answer(answers[persona, key]), hidden_answer(answers[persona, missing])
            if hidden != absent:
                report.mismatches.append(
                    f"{self.describe(probe, self.W[key], persona)}: hidden answers {hidden}, "
                    f"a non-existent ID answers {absent}")


# ---------------------------------------------------------------- the world


TASKS_QUERY = """query($c: ID!) { campaign(id: $c) { tasks(first: 500) { edges { node {
  id status assignee { username } asset { id filename } step { id name } } } } } }"""
CAMPAIGN_QUERY = """query($c: ID!) { campaign(id: $c) { id steps { id name type } datasetVersion { id labels { id }
  dataset { id } } } }"""
CREATE_ISSUE = "mutation($i: CreateIssueInput!) { createIssue(input: $i) { issue { id } errors { code } } }"
RESOLVE = "mutation($i: CommentIssueInput!) { resolveIssue(input: $i) { issue { id } errors { code } } }"
TRANSITION = "mutation($i: {type}!) {{ {name}(input: $i) {{ task {{ id status }} errors {{ code }} }} }}"


async def ok(api, query: str, variables: dict, token: str) -> dict:
    data = await api.data(query, variables, token)
    payload = next(iter(data.values()))
    assert not payload.get("errors"), payload
    return payload


async def launch(api, token, version_id, steps, users) -> str:
    campaign = (await ok(api, "mutation($v: ID!) { createCampaign(input: {datasetVersionId: $v}) { campaign { id } errors { code } } }",
                         {"v": version_id}, token))["campaign"]["id"]
    for name, step_type, assignees in steps:
        await ok(api, "mutation($i: AddStepInput!) { addStep(input: $i) { step { id } errors { code } } }",
                 {"i": {"campaignId": campaign, "name": name, "type": step_type,
                        "assigneeIds": [users[a] for a in assignees]}}, token)
    await ok(api, LAUNCH.replace("{ status launchedAt completedAt }", "{ id }"), {"c": campaign}, token)
    return campaign


async def tasks_of(api, campaign: str, token: str) -> list[dict]:
    data = await api.data(TASKS_QUERY, {"c": campaign}, token)
    return [e["node"] for e in data["campaign"]["tasks"]["edges"]]


async def transition(api, name: str, input_type: str, variables: dict, token: str) -> dict:
    return await ok(api, TRANSITION.format(type=input_type, name=name), {"i": variables}, token)


async def new_issue(api, asset_id: str, token: str, resolve: bool = False) -> str:
    issue = (await ok(api, CREATE_ISSUE, {"i": {"assetId": asset_id, **ISSUE}}, token))["issue"]["id"]
    if resolve:
        await ok(api, RESOLVE, {"i": {"issueId": issue, "body": "fixed"}}, token)
    return issue


async def build_matrix_world(api, world) -> tuple[Objects, dict[str, str | None], dict[str, str]]:
    """The fixture world made rich: (objects, persona tokens, persona -> User ID)."""
    ids = world.ids
    tokens: dict[str, str | None] = {p: getattr(world, p) for p in SIGNED_IN_PERSONAS}
    tokens["anonymous"], tokens["badtoken"] = None, "swt_" + "A" * 43
    users = {p: ids[p] for p in SIGNED_IN_PERSONAS}
    W = Objects()

    # Acme / Streets: steps [Annotate (labeler1, contributor1), Review (manager1)], eight assets.
    await add_assets(api, world, [f"s{i}.jpg" for i in range(8)])
    streets_campaign, _ = await campaign_with_steps(
        api, world, [("Annotate", "ANNOTATION", ["labeler1", "contributor1"]), ("Review", "REVIEW", ["manager1"])])
    await ok(api, LAUNCH, {"c": streets_campaign}, world.manager)
    tasks = await tasks_of(api, streets_campaign, world.manager)
    lab = [t for t in tasks if t["assignee"]["username"] == "labeler1"]
    con = [t for t in tasks if t["assignee"]["username"] == "contributor1"]
    assert len(lab) >= 4 and len(con) >= 2, tasks
    t_lab, t_rev, t_skip, t_done, t_con = lab[0], lab[1], lab[2], lab[3], con[0]
    await transition(api, "submitTask", "SubmitTaskInput", {"taskId": t_rev["id"]}, world.labeler)  # now the manager's
    await transition(api, "skipTask", "SkipTaskInput", {"taskId": t_skip["id"], "issue": ISSUE}, world.labeler)
    await transition(api, "submitTask", "SubmitTaskInput", {"taskId": t_done["id"]}, world.labeler)
    await transition(api, "submitTask", "SubmitTaskInput", {"taskId": t_done["id"]}, world.manager)  # DONE
    issue_ids = {
        "i_lab_open": await new_issue(api, t_lab["asset"]["id"], world.labeler),
        "i_lab_resolved": await new_issue(api, t_lab["asset"]["id"], world.labeler, resolve=True),
        "i_con_open": await new_issue(api, t_con["asset"]["id"], world.contributor),
        "i_con_resolved": await new_issue(api, t_con["asset"]["id"], world.contributor, resolve=True),
        "i_rev_open": await new_issue(api, t_rev["asset"]["id"], world.manager),
    }
    await ok(api, "mutation($i: InviteMemberInput!) { inviteMember(input: $i) { errors { code } } }",
             {"i": {"organizationId": ids["org"], "usernameOrEmail": "invitee@example.com", "role": "MEMBER"}}, world.admin)

    # Acme / Parks: created by contributor1 (its MANAGER); labeler1 and manager1 are not workers there.
    parks = (await ok(api, "mutation($i: CreateDatasetInput!) { createDataset(input: $i) { dataset { id } errors { code } } }",
                      {"i": {"organizationId": ids["org"], "name": "Parks"}}, world.contributor))["dataset"]["id"]
    parks_version = (await ok(api, "mutation($i: CreateDatasetVersionInput!) { createDatasetVersion(input: $i) { datasetVersion { id } errors { code } } }",
                              {"i": {"datasetId": parks, "name": "p1", "labels": ["tree"]}}, world.contributor))["datasetVersion"]["id"]
    await ok(api, "mutation($i: AddAssetsInput!) { addAssets(input: $i) { assets { id } errors { code } } }",
             {"i": {"datasetVersionId": parks_version, "assets": [{"filename": "p0.jpg", "width": 50, "height": 50}]}},
             world.contributor)
    parks_campaign = await launch(api, world.contributor, parks_version, [("Annotate", "ANNOTATION", ["contributor"])], users)
    (t_parks,) = await tasks_of(api, parks_campaign, world.contributor)
    issue_ids["i_parks_open"] = await new_issue(api, t_parks["asset"]["id"], world.contributor)

    # Other / Theirs: the outsider's organization, with an UNPRIVILEGED labeler of its own.
    otherlab_token, users["otherlab"] = await api.sign_up("otherlab1")
    await ok(api, "mutation($i: InviteMemberInput!) { inviteMember(input: $i) { errors { code } } }",
             {"i": {"organizationId": ids["other_org"], "usernameOrEmail": "otherlab1", "role": "UNPRIVILEGED"}}, world.outsider)
    await ok(api, "mutation($i: InviteMemberInput!) { inviteMember(input: $i) { errors { code } } }",
             {"i": {"organizationId": ids["other_org"], "usernameOrEmail": "pending@example.com", "role": "MEMBER"}}, world.outsider)
    await ok(api, "mutation($i: AddDatasetWorkerInput!) { addDatasetWorker(input: $i) { errors { code } } }",
             {"i": {"datasetId": ids["other_dataset"], "userId": users["otherlab"]}}, world.outsider)
    theirs_version = (await ok(api, "mutation($i: CreateDatasetVersionInput!) { createDatasetVersion(input: $i) { datasetVersion { id } errors { code } } }",
                               {"i": {"datasetId": ids["other_dataset"], "name": "v1", "labels": ["car"]}}, world.outsider))["datasetVersion"]["id"]
    await ok(api, "mutation($i: AddAssetsInput!) { addAssets(input: $i) { assets { id } errors { code } } }",
             {"i": {"datasetVersionId": theirs_version,
                    "assets": [{"filename": f"o{i}.jpg", "width": 100, "height": 100} for i in range(4)]}}, world.outsider)
    theirs_campaign = await launch(api, world.outsider, theirs_version,
                                   [("Annotate", "ANNOTATION", ["otherlab", "outsider"]), ("Review", "REVIEW", ["outsider"])], users)
    theirs_tasks = await tasks_of(api, theirs_campaign, world.outsider)
    t_theirs_lab = next(t for t in theirs_tasks if t["assignee"]["username"] == "otherlab1")
    t_theirs_out = next(t for t in theirs_tasks if t["assignee"]["username"] == "outsider1")
    issue_ids["i_theirs_open"] = await new_issue(api, t_theirs_lab["asset"]["id"], otherlab_token)
    issue_ids["i_theirs_resolved"] = await new_issue(api, t_theirs_lab["asset"]["id"], otherlab_token, resolve=True)

    # -- the registry
    W["org_acme"] = Obj("org_acme", "Organization", ids["org"], org="acme",
                        data={"member_username": "member1", "dataset_name": "Streets"})
    W["org_other"] = Obj("org_other", "Organization", ids["other_org"], org="other",
                         data={"member_username": "outsider1", "dataset_name": "Theirs"})
    for persona, gid in users.items():
        org = next(iter(orgs_of(persona)))
        W[f"user_{persona}"] = Obj(f"user_{persona}", "User", gid, org=org, data={"persona": persona})
    campaigns = {"streets": streets_campaign, "parks": parks_campaign, "theirs": theirs_campaign}
    unprivileged = {"streets": "labeler", "parks": "labeler", "theirs": "otherlab"}
    version_names = {"streets": "v1", "parks": "p1", "theirs": "v1"}
    owners = {"labeler1": "labeler", "contributor1": "contributor", "manager1": "manager", "outsider1": "outsider",
              "otherlab1": "otherlab"}
    for ds, campaign_id in campaigns.items():
        org = DATASET_ORG[ds]
        token = {"streets": world.manager, "parks": world.contributor, "theirs": world.outsider}[ds]
        info = (await api.data(CAMPAIGN_QUERY, {"c": campaign_id}, token))["campaign"]
        version = info["datasetVersion"]
        rel = {"dataset": f"ds_{ds}", "version": f"v_{ds}", "campaign": f"c_{ds}"}
        W[f"ds_{ds}"] = Obj(f"ds_{ds}", "Dataset", version["dataset"]["id"], org=org, dataset=ds,
                            data={"unprivileged": unprivileged[ds], "version_name": version_names[ds]})
        W[f"v_{ds}"] = Obj(f"v_{ds}", "DatasetVersion", version["id"], org=org, dataset=ds, rel=rel)
        W[f"label_{ds}"] = Obj(f"label_{ds}", "Label", version["labels"][0]["id"], org=org, dataset=ds)
        W[f"c_{ds}"] = Obj(f"c_{ds}", "Campaign", campaign_id, org=org, dataset=ds, rel=rel)
        for step in info["steps"]:
            key = f"step_{ds}_{step['name'].lower()}"
            W[key] = Obj(key, "Step", step["id"], org=org, dataset=ds,
                         data={"other_type": "REVIEW" if step["type"] == "ANNOTATION" else "ANNOTATION"})
        W[f"c_{ds}"].data["steps"] = {s["id"]: s["name"] for s in info["steps"]}

    chosen = {"t_lab": ("streets", t_lab), "t_con": ("streets", t_con), "t_rev": ("streets", t_rev),
              "t_skip": ("streets", t_skip), "t_done": ("streets", t_done), "t_parks": ("parks", t_parks),
              "t_theirs_lab": ("theirs", t_theirs_lab), "t_theirs_out": ("theirs", t_theirs_out)}
    for key, (ds, before) in chosen.items():
        token = {"streets": world.manager, "parks": world.contributor, "theirs": world.outsider}[ds]
        now = next(t for t in await tasks_of(api, campaigns[ds], token) if t["id"] == before["id"])
        owner = owners[now["assignee"]["username"]] if now["assignee"] else None
        active = now["status"] in ("IN_PROGRESS", "TO_REWORK")
        steps = W[f"c_{ds}"].data["steps"]
        # A step the task is not at (WRONG_STEP for reassignTasks); a one-step workflow has none.
        wrong = [s for s in steps if not now["step"] or s != now["step"]["id"]] or list(steps)
        wrong_key = next(k for k, o in W.items() if o.type == "Step" and o.gid == wrong[0])
        common = {"org": DATASET_ORG[ds], "dataset": ds, "owner": owner, "active": active}
        rel = {"dataset": f"ds_{ds}", "version": f"v_{ds}", "campaign": f"c_{ds}", "asset": f"a_{key[2:]}",
               "wrong_step": wrong_key}
        W[key] = Obj(key, "Task", now["id"], read="task.read", rel=rel, data={"status": now["status"]}, **common)
        W[f"a_{key[2:]}"] = Obj(f"a_{key[2:]}", "Asset", now["asset"]["id"], read="asset.read", rel=rel, **common)
    issue_assets = {"i_lab_open": "t_lab", "i_lab_resolved": "t_lab", "i_con_open": "t_con", "i_con_resolved": "t_con",
                    "i_rev_open": "t_rev", "i_parks_open": "t_parks", "i_theirs_open": "t_theirs_lab",
                    "i_theirs_resolved": "t_theirs_lab"}
    for key, gid in issue_ids.items():
        task = W[issue_assets[key]]
        W[key] = Obj(key, "Issue", gid, org=task.org, dataset=task.dataset, read="task.read", owner=task.owner,
                     active=task.active, rel=dict(task.rel),
                     data={"status": "RESOLVED" if key.endswith("resolved") else "OPEN"})
    # The skip raised an issue on its asset: an OPEN issue of a task that is no longer active.
    skip_issue = (await api.data("query($t: ID!) { task(id: $t) { issues { id } } }", {"t": W["t_skip"].gid},
                                 world.manager))["task"]["issues"][0]["id"]
    t = W["t_skip"]
    W["i_skip_open"] = Obj("i_skip_open", "Issue", skip_issue, org=t.org, dataset=t.dataset, read="task.read",
                           owner=t.owner, active=t.active, rel=dict(t.rel), data={"status": "OPEN"})
    assert W["t_lab"].owner == "labeler" and W["t_lab"].active
    assert W["t_rev"].owner == "manager" and W["t_skip"].data["status"] == "SKIPPED" and W["t_done"].data["status"] == "DONE"
    await verify_roles(api, tokens, W)
    return W, tokens, users


async def verify_roles(api, tokens, W: Objects) -> None:
    """The role tables above describe the world the API actually holds."""
    gids = {o.gid: o.org for o in W.values() if o.type == "Organization"}
    for persona in SIGNED_IN_PERSONAS:
        data = await api.data("query { organizations { id viewerRole } }", None, tokens[persona])
        seen = {gids[o["id"]]: OrgRole(o["viewerRole"]) for o in data["organizations"] if o["id"] in gids}
        assert seen == {org: role for (who, org), role in ORG_ROLES.items() if who == persona}, (persona, seen)
    for ds, token in (("streets", tokens["admin"]), ("parks", tokens["admin"]), ("theirs", tokens["outsider"])):
        data = await api.data("query($id: ID!) { dataset(id: $id) { workers { role user { username } } } }",
                              {"id": W[f"ds_{ds}"].gid}, token)
        by_name = {name: key for key, name in USERNAMES.items()}
        seen = {by_name[w["user"]["username"]]: DatasetRole(w["role"]) for w in data["dataset"]["workers"]}
        assert seen == {who: role for (who, d), role in WORKERS.items() if d == ds}, (ds, seen)


# ---------------------------------------------------------------- the tests


def coverage_problems(probes: list[Probe]) -> list[str]:
    problems = []
    probed = {p.op for p in probes}
    for op, guard in OPERATIONS.items():
        if guard not in POLICY and guard not in (PUBLIC, SIGNED_IN):
            problems.append(f"{op} is guarded by {guard!r}, which is neither a POLICY action nor PUBLIC/SIGNED_IN")
        if not op.startswith("Subscription.") and op not in probed:
            problems.append(f"{op} has no probe in the permission matrix")
    problems += [f"probe for unknown operation {op}" for op in probed - set(OPERATIONS)]
    return problems


def fake_objects() -> Objects:
    """Enough objects to build the probe list without a database (for the coverage test)."""
    W = Objects()
    for t in NODE_TYPES:
        W.missing(t)
    return W


def test_every_operation_has_a_probe():
    users = dict.fromkeys([*SIGNED_IN_PERSONAS, "otherlab"], "x")
    assert coverage_problems(build_probes(fake_objects(), users)) == []


async def run_matrix(api, world, policy: dict, only: set[str] | None = None) -> Report:
    W, tokens, users = await build_matrix_world(api, world)
    probes = build_probes(W, users)
    assert coverage_problems(probes) == []
    report = Report()
    report.skipped = [f"{op}: {SUBSCRIPTIONS_SKIP_REASON}" for op in OPERATIONS if op.startswith("Subscription.")]
    await Matrix(api, tokens, W, users, policy).run([p for p in probes if only is None or p.op in only], report)
    return report


@pytest.mark.timeout(1800)
async def test_permission_matrix(api, world):
    report = await run_matrix(api, world, dict(POLICY))
    print(f"permission matrix: {report.cases} cases ({dict(sorted(report.by_expected.items()))} expected), "
          f"{report.hiding_comparisons} hidden-vs-missing comparisons, {report.detail_checks} checks inside "
          f"allowed answers, {len(report.mismatches)} mismatches")
    for skipped in report.skipped:
        print(f"permission matrix: skipped {skipped}")
    for mismatch in report.mismatches:
        print(f"permission matrix: MISMATCH {mismatch}")
    assert report.cases > 1000
    assert report.mismatches == [], "\n".join(report.mismatches)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_matrix_notices_a_changed_policy(api, world):
    """The matrix can fail: with a policy that differs from the server's, it reports the difference."""
    changed = dict(POLICY)
    scope, roles = changed["campaign.tasks"]
    changed["campaign.tasks"] = (scope, roles | {DatasetRole.LABELER})
    scope, roles = changed["dataset.read"]
    changed["dataset.read"] = (scope, roles - {DatasetRole.CONTRIBUTOR})
    report = await run_matrix(api, world, changed, only={"Campaign.tasks", "Query.dataset"})
    assert report.cases > 0
    assert any(m.startswith("Campaign.tasks [campaign(id)] on c_streets as labeler: expected ALLOWED, got FORBIDDEN")
               for m in report.mismatches), report.mismatches
    assert any(m.startswith("Query.dataset on ds_streets as contributor: expected FORBIDDEN, got ALLOWED")
               for m in report.mismatches), report.mismatches
