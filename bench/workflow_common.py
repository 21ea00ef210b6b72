"""Helpers shared by the workflow benchmarks (launch, task_page, submit); not a test module.

- `setup_team(...)`: workers signed up, invited into the manager's organization and added to
  the dataset (what a step's assignees must be);
- `create_campaign(...)` / `launch(...)`: a DRAFT campaign with steps, then `launchCampaign`;
- `insert_assets_sql(...)`: many assets at once with one set-based INSERT ... SELECT through
  the app's own database connection (`open_database` + `models.db.sql`), for setups too big
  for `addAssets`;
- `campaign_task_ids(...)`: a campaign's task ids in order, straight from the database;
- `load_average()`: the 1-minute load, printed next to the figures (the machine is shared).
"""

from __future__ import annotations

import os
import time

from common import Api, BenchError, payload, say

ADD_WORKER = """mutation($i: AddDatasetWorkerInput!) { addDatasetWorker(input: $i) { errors { code field message } } }"""
INVITE = """mutation($i: InviteMemberInput!) { inviteMember(input: $i) { errors { code field message } } }"""
SIGN_UP_USER = """mutation($i: SignUpInput!) { signUp(input: $i) { token user { id } errors { code field message } } }"""
ORG_OF_DATASET = """query($id: ID!) { node(id: $id) { ... on Dataset { organization { id } } } }"""
CREATE = """mutation($v: ID!) { createCampaign(input: {datasetVersionId: $v}) { campaign { id status } errors { code field message } } }"""
ADD_STEP = """mutation($i: AddStepInput!) { addStep(input: $i) { step { id } errors { code field message } } }"""
UPDATE = """mutation($i: UpdateCampaignInput!) { updateCampaign(input: $i) { campaign { attributionPolicy } errors { code field message } } }"""
LAUNCH = """mutation($c: ID!) { launchCampaign(input: {campaignId: $c}) {
  campaign { status launchedAt } errors { code field message } } }"""
TOTAL = """query($c: ID!, $f: TaskFilter) { campaign(id: $c) { status tasks(first: 0, filter: $f) { totalCount } } }"""


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min, {os.cpu_count()} CPUs)"


def pk_of(global_id: str) -> int:
    from stepwise.schema.ids import parse_id

    parsed = parse_id(global_id)
    if parsed is None:
        raise BenchError(f"not a Stepwise ID: {global_id!r}")
    return parsed[1]


async def organization_of(api: Api, dataset_id: str) -> str:
    data = await api.data(ORG_OF_DATASET, {"id": dataset_id})
    return data["node"]["organization"]["id"]


async def setup_team(api: Api, dataset_id: str, usernames: list[str]) -> dict[str, tuple[str, str]]:
    """{username: (token, user id)}: each signs up, joins the organization as MEMBER and becomes
    a CONTRIBUTOR worker of the dataset. `api.token` (the manager's) is kept."""
    manager_token = api.token
    org_id = await organization_of(api, dataset_id)
    team: dict[str, tuple[str, str]] = {}
    for name in usernames:
        api.token = None
        data = await api.data(SIGN_UP_USER, {"i": {"username": name, "email": f"{name}@example.com",
                                                    "password": "correct horse battery"}})
        result = payload(data, "signUp")
        team[name] = (result["token"], result["user"]["id"])
        api.token = manager_token
        payload(await api.data(INVITE, {"i": {"organizationId": org_id, "usernameOrEmail": name, "role": "MEMBER"}}),
                "inviteMember")
        payload(await api.data(ADD_WORKER, {"i": {"datasetId": dataset_id, "userId": team[name][1]}}), "addDatasetWorker")
    api.token = manager_token
    return team


async def create_campaign(api: Api, version_id: str, steps: list[tuple[str, str, list[str]]], policy: str) -> str:
    """A DRAFT campaign with `steps` = [(name, ANNOTATION|REVIEW, [user ids])] and `policy`."""
    campaign = payload(await api.data(CREATE, {"v": version_id}), "createCampaign")["campaign"]["id"]
    for name, step_type, assignees in steps:
        payload(await api.data(ADD_STEP, {"i": {"campaignId": campaign, "name": name, "type": step_type,
                                                "assigneeIds": assignees}}), "addStep")
    got = payload(await api.data(UPDATE, {"i": {"campaignId": campaign, "attributionPolicy": policy}}), "updateCampaign")
    if got["campaign"]["attributionPolicy"] != policy:
        raise BenchError(f"attributionPolicy is {got['campaign']['attributionPolicy']}, expected {policy}")
    return campaign


async def launch(api: Api, campaign_id: str) -> float:
    """Seconds the `launchCampaign` request took (client side, body encoded beforehand)."""
    import json

    body = json.dumps({"query": LAUNCH, "variables": {"c": campaign_id}}).encode()
    started = time.perf_counter()
    data = await api.post_raw(body)
    elapsed = time.perf_counter() - started
    status = payload(data, "launchCampaign")["campaign"]["status"]
    if status != "ONGOING":
        raise BenchError(f"campaign is {status} after launch, expected ONGOING")
    return elapsed


async def total_tasks(api: Api, campaign_id: str, task_filter: dict | None = None) -> int:
    data = await api.data(TOTAL, {"c": campaign_id, "f": task_filter})
    return data["campaign"]["tasks"]["totalCount"]


SHAPE_JSON = '[{"label": %d, "kind": "RECTANGLE", "points": [[10.0, 20.0], [300.0, 200.0]]}]'


async def insert_assets_sql(database_url: str, version_pk: int, count: int, start: int = 0,
                            annotated_every: int = 0) -> float:
    """`count` 1920x1080 assets (frames/NNNNNNN.jpg from `start`) added to a version with one
    set-based INSERT ... SELECT (a recursive CTE on SQLite, generate_series on PostgreSQL),
    through the app's database layer; seconds it took. With `annotated_every` = k, every k-th
    asset gets a pre-existing annotation of one RECTANGLE (label: one of the version's labels in
    turn), in the stored form addAssets writes. Call it while no app runs in this process
    (Tortoise's connections are process-global)."""
    from stepwise.models import clock
    from stepwise.models.db import sql
    from stepwise.models.db.lifecycle import open_database

    started = time.perf_counter()
    async with open_database(database_url):
        conn = sql.current_connection()
        now = clock.now()
        labels = [row[0] for row in await sql.fetch("SELECT id FROM label WHERE version_id = ? ORDER BY id", [version_pk])]
        if annotated_every and not labels:
            raise BenchError("the version has no labels to annotate with")
        every = annotated_every or 0
        # which label: CASE on i % len(labels) (ids inlined: they are integers read just above)
        label_case = "CASE " + " ".join(f"WHEN i % {len(labels)} = {k} THEN {int(lid)}" for k, lid in enumerate(labels)) + " END" \
            if labels else "NULL"
        if sql.is_postgres(conn):
            annotation = (f"CASE WHEN {every} > 0 AND i % {max(every, 1)} = 0 THEN format('{SHAPE_JSON.replace('%d', '%s')}', {label_case})::jsonb END"
                          if every else "NULL")
            await sql.execute(
                "INSERT INTO asset (version_id, filename, width, height, url, annotation, annotation_updated_at, created_at)"
                " SELECT ?, 'frames/' || lpad(i::text, 7, '0') || '.jpg', 1920, 1080,"
                " 'https://images.example.com/frames/' || lpad(i::text, 7, '0') || '.jpg',"
                f" {annotation}, CASE WHEN {annotation} IS NULL THEN NULL ELSE ?::timestamptz END, ?"
                " FROM generate_series(?::int, ?::int) AS i ORDER BY i",
                [version_pk, now, now, start, start + count - 1],
            )
            await sql.execute("ANALYZE asset")
        else:
            annotation = (f"CASE WHEN i % {max(every, 1)} = 0 THEN printf('{SHAPE_JSON}', {label_case}) END"
                          if every else "NULL")
            await sql.execute(
                "WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i < ?)"
                " INSERT INTO asset (version_id, filename, width, height, url, annotation, annotation_updated_at, created_at)"
                " SELECT ?, printf('frames/%07d.jpg', i), 1920, 1080,"
                f" printf('https://images.example.com/frames/%07d.jpg', i), {annotation},"
                f" CASE WHEN {annotation} IS NULL THEN NULL ELSE ? END, ? FROM n",
                [start, start + count - 1, version_pk, now, now],
            )
        got = (await sql.fetch("SELECT COUNT(*) FROM asset WHERE version_id = ?", [version_pk]))[0][0]
    if got < count:
        raise BenchError(f"version has {got} assets after inserting {count}")
    return time.perf_counter() - started


async def campaign_task_ids(database_url: str, campaign_pk: int, offsets: list[int]) -> list[int]:
    """The ids of the campaign's tasks at these 0-based positions (id order)."""
    from stepwise.models.db import sql
    from stepwise.models.db.lifecycle import open_database

    ids = []
    async with open_database(database_url):
        for offset in offsets:
            rows = await sql.fetch(f"SELECT id FROM task WHERE campaign_id = ? ORDER BY id LIMIT 1 OFFSET {int(offset)}",
                                   [campaign_pk])
            if not rows:
                raise BenchError(f"campaign has no task at position {offset}")
            ids.append(rows[0][0])
    return ids


async def analyze(database_url: str) -> None:
    """Fresh planner statistics after a bulk load (ANALYZE on both backends)."""
    from stepwise.models.db import sql
    from stepwise.models.db.lifecycle import open_database

    async with open_database(database_url):
        await sql.execute("ANALYZE")


def progress_note(backend: str, message: str) -> None:
    say(f"[{backend}] {message}")
