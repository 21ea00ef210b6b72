"""Property test: every path that shows a task, an asset or an issue agrees with the predicates of
permissions/visibility.py, and so do its SQL filters.

Hypothesis builds small random worlds through the real API: an organization whose members have
random roles (ADMINs acting as MANAGER, MEMBERs, UNPRIVILEGED, and users left out), one or two
datasets with random workers, a campaign each with random steps and assignees, then random
submits, skips, reworks, reassignments and issues. For every user and every task, asset and issue,
`task(id)`, `node(id)` and `issue(id)` answer it exactly when the predicate allows it (NOT_FOUND
otherwise), what a visible task or asset shows of its asset, task and issues is visible too,
`myTasks`/`myIssues` are exactly the viewer's own active ones the predicate allows, `createIssue`
is refused exactly on the assets whose task is hidden, a transition's payload shows the task's content
exactly when its actor may still see it, and the SQL filters select the same rows.

Examples per run: STEPWISE_TEST_PROPERTY_EXAMPLES (default 25; docs/development.md).
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass

import pytest
from campaign_helpers import ADD_STEP, CREATE, ISSUE, LAUNCH
from conftest import _app_api
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stepwise.models.db import sql
from stepwise.permissions import visibility
from stepwise.permissions.roles import DatasetRole, OrgRole, effective_dataset_role
from stepwise.schema.ids import decode_id, encode_id

EXAMPLES = int(os.environ.get("STEPWISE_TEST_PROPERTY_EXAMPLES", "25"))
POOL = 5  # users signed up once per test; each example is a new organization of theirs
NAMES = itertools.count()

ORG_ROLES = [None, OrgRole.ADMIN, OrgRole.MEMBER, OrgRole.UNPRIVILEGED]
WORKER_ROLES = [None, DatasetRole.MANAGER, DatasetRole.CONTRIBUTOR, DatasetRole.LABELER]
OPS = ["submit", "submit", "skip", "rework", "reassign", "issue"]


@dataclass
class Plan:
    creator: int
    org_roles: dict[int, OrgRole | None]
    datasets: list[dict]


@st.composite
def plans(draw) -> Plan:
    creator = draw(st.integers(0, POOL - 1))
    org_roles = {u: OrgRole.ADMIN if u == creator else draw(st.sampled_from(ORG_ROLES)) for u in range(POOL)}
    members = [u for u in range(POOL) if org_roles[u] is not None and u != creator]
    datasets = []
    for _ in range(draw(st.integers(1, 2))):
        workers = {}
        for u in members:
            choices = [None, DatasetRole.LABELER] if org_roles[u] is OrgRole.UNPRIVILEGED else WORKER_ROLES
            if (role := draw(st.sampled_from(choices))) is not None:
                workers[u] = role
        assignable = sorted({creator, *workers})  # the creator is the dataset's MANAGER
        steps = draw(st.lists(st.tuples(st.sampled_from(["ANNOTATION", "REVIEW"]),
                                        st.lists(st.sampled_from(assignable), min_size=1, max_size=2, unique=True)),
                              min_size=1, max_size=2))
        ops = draw(st.lists(st.tuples(st.integers(0, 2), st.sampled_from(OPS), st.sampled_from(assignable)), max_size=6))
        datasets.append({"workers": workers, "assets": draw(st.integers(1, 3)), "steps": steps, "ops": ops})
    return Plan(creator, org_roles, datasets)


@pytest.fixture
async def roomy_api(settings_env):
    """The API with room for one alias per object in a single document."""
    async for api in _app_api({**settings_env, "STEPWISE_MAX_ALIASES": "1000"}):
        yield api


@pytest.fixture
async def pool(roomy_api) -> list[tuple[str, str]]:
    return [await roomy_api.sign_up(f"prop{n}") for n in range(POOL)]


async def ok(api, document: str, variables: dict, token: str) -> dict:
    """The payload of a one-field mutation that must succeed."""
    payload = next(iter((await api.data(document, variables, token)).values()))
    assert payload["errors"] == [], payload
    return payload


async def build(api, pool, plan: Plan) -> str:
    """The planned organization through the API; its ID."""
    token = pool[plan.creator][0]
    org = (await ok(api, "mutation($n: String!) { createOrganization(input: {name: $n}) { organization { id } errors { code } } }",
                    {"n": f"Org {next(NAMES)}"}, token))["organization"]["id"]
    for user, role in plan.org_roles.items():
        if role is not None and user != plan.creator:
            await ok(api, "mutation($i: InviteMemberInput!) { inviteMember(input: $i) { errors { code } } }",
                     {"i": {"organizationId": org, "usernameOrEmail": f"prop{user}", "role": role.value}}, token)
    for number, planned in enumerate(plan.datasets):
        dataset = (await ok(api, "mutation($i: CreateDatasetInput!) { createDataset(input: $i) { dataset { id } errors { code } } }",
                            {"i": {"organizationId": org, "name": f"d{number}"}}, token))["dataset"]["id"]
        for user, role in planned["workers"].items():
            await ok(api, "mutation($i: AddDatasetWorkerInput!) { addDatasetWorker(input: $i) { errors { code } } }",
                     {"i": {"datasetId": dataset, "userId": pool[user][1], "role": role.value}}, token)
        version = (await ok(api, "mutation($i: CreateDatasetVersionInput!) { createDatasetVersion(input: $i) { datasetVersion { id } errors { code } } }",
                            {"i": {"datasetId": dataset, "name": "v1", "labels": ["car"]}}, token))["datasetVersion"]["id"]
        assets = [{"filename": f"{n}.jpg", "width": 10, "height": 10} for n in range(planned["assets"])]
        assets = (await ok(api, "mutation($i: AddAssetsInput!) { addAssets(input: $i) { assets { id } errors { code } } }",
                           {"i": {"datasetVersionId": version, "assets": assets}}, token))["assets"]
        campaign = (await ok(api, CREATE, {"v": version}, token))["campaign"]["id"]
        for position, (kind, assignees) in enumerate(planned["steps"]):
            await ok(api, ADD_STEP, {"i": {"campaignId": campaign, "name": f"s{position}", "type": kind,
                                           "assigneeIds": [pool[u][1] for u in assignees]}}, token)
        await ok(api, LAUNCH, {"c": campaign}, token)
        for asset_index, op, user in planned["ops"]:
            await play(api, pool, token, assets[asset_index % len(assets)]["id"], op, user)
    return org


async def play(api, pool, token: str, asset_id: str, op: str, user: int) -> None:
    """One planned change to the asset's task, by whoever may make it; refusals are part of the game."""
    task = (await api.data("query($a: ID!) { node(id: $a) { ... on Asset { task { id status assignee { id } } } } }",
                           {"a": asset_id}, token))["node"]["task"]
    holder = next((t for t, uid in pool if task["assignee"] and uid == task["assignee"]["id"]), None)
    documents = {
        "submit": ("submitTask", "SubmitTaskInput", {"taskId": task["id"]}, holder),
        "skip": ("skipTask", "SkipTaskInput", {"taskId": task["id"], "issue": ISSUE}, holder),
        "rework": ("sendTaskToRework", "SendToReworkInput", {"taskId": task["id"], "issue": ISSUE}, holder),
        "reassign": ("reassignTask", "ReassignTaskInput", {"taskId": task["id"], "assigneeId": pool[user][1]}, token),
        "issue": ("createIssue", "CreateIssueInput", {"assetId": asset_id, **ISSUE}, token),
    }
    name, input_type, variables, actor = documents[op]
    if actor is None:
        return
    moved = "task { id events { kind } }" if name != "createIssue" else ""
    payload = (await api.data(f"mutation($i: {input_type}!) {{ {name}(input: $i) {{ {moved} errors {{ code }} }} }}",
                              {"i": variables}, actor))[name]
    if moved and not payload["errors"] and payload.get("task"):
        # The payload shows the task's content (a task always has its CREATED event) exactly when
        # the actor may still see the task through task(id).
        still_seen = (await api.post("query($t: ID!) { task(id: $t) { id } }", {"t": task["id"]}, actor))["data"]["task"]
        assert bool(payload["task"]["events"]) == (still_seen is not None), (name, payload, still_seen)


TRUTH = """query($o: ID!) { organization(id: $o) { members { user { id } role } datasets { id workers { user { id } role }
  versions { assets(first: 10) { edges { node { id } } } campaign {
    tasks(first: 50) { edges { node { id status assignee { id } asset { id } } } }
    issues(first: 50) { edges { node { id asset { id } } } } } } } } }"""


async def truth(api, token: str, org: str):
    """Every task, asset and issue with what the predicates need, read by the organization's creator."""
    data = (await api.data(TRUTH, {"o": org}, token))["organization"]
    org_roles = {m["user"]["id"]: OrgRole(m["role"]) for m in data["members"]}
    tasks, assets, issues, workers = {}, {}, {}, {}
    for dataset in data["datasets"]:
        workers[dataset["id"]] = {w["user"]["id"]: DatasetRole(w["role"]) for w in dataset["workers"]}
        for version in dataset["versions"]:
            for edge in version["assets"]["edges"]:
                assets[edge["node"]["id"]] = {"dataset": dataset["id"], "task": None}
            for edge in version["campaign"]["tasks"]["edges"]:
                task = edge["node"]
                task.update(dataset=dataset["id"], assignee=task["assignee"] and task["assignee"]["id"])
                tasks[task["id"]] = assets[task["asset"]["id"]]["task"] = task
            for edge in version["campaign"]["issues"]["edges"]:
                issues[edge["node"]["id"]] = assets[edge["node"]["asset"]["id"]]
    return org_roles, workers, tasks, assets, issues


def predicates(viewer: str, org_roles, workers, tasks, assets, issues):
    """What the viewer may see according to permissions/visibility.py: sets of global IDs."""
    def role(dataset):
        return effective_dataset_role(org_roles.get(viewer), workers[dataset].get(viewer))

    def sees(task):
        return visibility.can_see_task(role(task["dataset"]), decode_id(viewer, "User"),
                                       task["assignee"] and decode_id(task["assignee"], "User"), task["status"])

    seen_tasks = {t for t, task in tasks.items() if sees(task)}
    seen_assets = {a for a, asset in assets.items()
                   if visibility.can_see_asset(role(asset["dataset"]), decode_id(viewer, "User"),
                                               asset["task"] and asset["task"]["assignee"] and decode_id(asset["task"]["assignee"], "User"),
                                               asset["task"] and asset["task"]["status"])}
    seen_issues = {i for i, asset in issues.items() if sees(asset["task"])}
    return seen_tasks, seen_assets, seen_issues


def lookups(tasks, assets, issues) -> tuple[str, dict]:
    """One document asking every lookup path for every object, and the alias → (path, ID) map."""
    fields, aliases = [], {}
    for n, task in enumerate(tasks):
        fields += [f't{n}: task(id: "{task}") {{ id asset {{ id }} issues {{ id }} }}', f'nt{n}: node(id: "{task}") {{ id }}']
        aliases |= {f"t{n}": ("task", task), f"nt{n}": ("node", task)}
    for n, asset in enumerate(assets):
        fields.append(f'a{n}: node(id: "{asset}") {{ id ... on Asset {{ task {{ id }} issues {{ id }} }} }}')
        aliases[f"a{n}"] = ("asset", asset)
    for n, issue in enumerate(issues):
        fields += [f'i{n}: issue(id: "{issue}") {{ id asset {{ id }} }}', f'ni{n}: node(id: "{issue}") {{ id }}']
        aliases |= {f"i{n}": ("issue", issue), f"ni{n}": ("node", issue)}
    return "query { " + " ".join(fields) + " }", aliases


async def sql_filtered(viewer: str) -> tuple[set, set, set]:
    """The rows each SQL filter of permissions/visibility.py selects for the viewer, as global IDs."""
    viewer_id, found = decode_id(viewer, "User"), []
    for table, alias, make in (("task", "t", visibility.task_filter), ("asset", "a", visibility.asset_filter),
                               ("issue", "i", visibility.issue_filter)):
        where = make(viewer_id, alias)
        rows = await sql.fetch(f"SELECT {alias}.id FROM {table} {alias} WHERE {where.sql}", where.params)
        found.append({encode_id(table.capitalize(), row[0]) for row in rows})
    return tuple(found)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=plans())
async def test_every_path_agrees_with_the_visibility_predicates(roomy_api, pool, plan):
    api = roomy_api
    org = await build(api, pool, plan)
    org_roles, workers, tasks, assets, issues = await truth(api, pool[plan.creator][0], org)
    document, aliases = lookups(tasks, assets, issues)
    every = {**tasks, **assets, **issues}
    for token, viewer in pool:
        seen_tasks, seen_assets, seen_issues = predicates(viewer, org_roles, workers, tasks, assets, issues)
        seen = seen_tasks | seen_assets | seen_issues
        body = await api.post(document, {}, token)
        refused = {error["path"][0]: error["extensions"]["code"] for error in body.get("errors", [])}
        assert set(refused.values()) <= {"NOT_FOUND"}, body["errors"]
        for alias, (path, gid) in aliases.items():
            answer = body["data"][alias]
            assert (answer is not None) == (gid in seen) == (alias not in refused), (viewer, path, gid, answer)
            if answer is None:
                continue
            # Whatever a visible object shows of its neighbours is visible through their own paths.
            shown = [answer.get("asset"), answer.get("task"), *(answer.get("issues") or [])]
            assert {s["id"] for s in shown if s} <= seen, (viewer, path, gid, answer)
            if "issues" in answer:
                asset = every[gid]["asset"]["id"] if gid in tasks else gid
                assert {i["id"] for i in answer["issues"]} == {i for i in seen_issues if issues[i] is assets[asset]}
        # The SQL filters select exactly the rows of this world the predicates allow.
        by_sql = await sql_filtered(viewer)
        assert (by_sql[0] & set(tasks), by_sql[1] & set(assets), by_sql[2] & set(issues)) == (seen_tasks, seen_assets, seen_issues)
        await check_my_lists(api, token, viewer, org, org_roles, tasks, issues, seen_tasks, seen_issues)
    await check_create_issue(api, pool, plan, assets, org_roles, workers)


async def check_my_lists(api, token, viewer, org, org_roles, tasks, issues, seen_tasks, seen_issues) -> None:
    body = await api.post("query($o: ID!) { myTasks(organizationId: $o) { tasks { id } } myIssues(organizationId: $o) { id } }",
                          {"o": org}, token)
    if viewer not in org_roles:
        assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        return
    mine = {t for t, task in tasks.items() if task["assignee"] == viewer and task["status"] in visibility.ACTIVE_STATUSES}
    assert {t["id"] for group in body["data"]["myTasks"] for t in group["tasks"]} == mine & seen_tasks
    my_issues = {i for i, asset in issues.items() if asset["task"]["id"] in mine}
    assert {i["id"] for i in body["data"]["myIssues"]} == my_issues & seen_issues


async def check_create_issue(api, pool, plan, assets, org_roles, workers) -> None:
    """createIssue on every asset, by each user: refused (NOT_FOUND) exactly where the task is hidden."""
    for (token, viewer), (gid, asset) in itertools.product(pool, list(assets.items())[:2]):
        role = effective_dataset_role(org_roles.get(viewer), workers[asset["dataset"]].get(viewer))
        task = asset["task"]
        expected = visibility.can_see_task(role, decode_id(viewer, "User"),
                                           task["assignee"] and decode_id(task["assignee"], "User"), task["status"])
        body = await api.post("mutation($i: CreateIssueInput!) { createIssue(input: $i) { errors { code } } }",
                              {"i": {"assetId": gid, **ISSUE}}, token)
        codes = [error["extensions"]["code"] for error in body.get("errors", [])]
        assert codes == ([] if expected else ["NOT_FOUND"]), (viewer, gid, body)
        if expected:  # created, or refused by a business rule only (a completed campaign)
            assert {e["code"] for e in body["data"]["createIssue"]["errors"]} <= {"CAMPAIGN_NOT_ONGOING"}
