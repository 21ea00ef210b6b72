"""Benchmark: the full `Campaign.analytics` selection on 1,000,000 task events, over real HTTP.

Setup (per backend, fresh database, not timed): a real `python -m stepwise serve` on 127.0.0.1,
a manager, a dataset, three workers (annotator1, annotator2, reviewer1), a version of 100,000
1920x1080 assets all annotated (one RECTANGLE each; every fourth also a 4-point POLYGON), a
campaign [Annotate (annotator1, annotator2), Review (reviewer1)] launched through the API (100,000
tasks and their CREATED events), then 900,000 more events written with one set-based INSERT ...
SELECT: per task 9 events over 30 days (STARTED, SUBMITTED, SENT_TO_REWORK in turn, at both steps,
by the three workers, completions with a duration), and 10,000 issues (half resolved); ANALYZE.

What it measures: the wall-clock time of one `analytics` request selecting every field
(throughput, efficiency with p50/p95, quality), --rounds times after one warm-up, with a 30-day
range at DAY granularity, the same without a range, and the contract's fields only (without the
added p50Seconds/p95Seconds, which are ranked only when selected); p50 and p95 per backend.
Target: p95 <= 100 ms on SQLite and PostgreSQL.

Run from the repository root:

    .venv/bin/python bench/analytics.py                   # both backends, 20 rounds each
    .venv/bin/python bench/analytics.py --backend sqlite --rounds 5

PostgreSQL is skipped, with a note, when it is unreachable. Exits non-zero on any failure or
when the whole run exceeds --timeout seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from common import (
    DEFAULT_POSTGRES_URL,
    BenchError,
    backends_to_run,
    create_dataset,
    create_version,
    fresh_database,
    http_api,
    percentile,
    run_bounded,
    running_server,
    say,
    sign_up_manager,
)
from workflow_common import analyze, create_campaign, insert_assets_sql, launch, load_average, pk_of, setup_team

ASSETS = 100_000
EVENTS_PER_TASK = 9  # plus the CREATED event of the launch: 1,000,000 in all
DAYS = 30
BASE_EPOCH = 1_893_456_000  # 2030-01-01 00:00 UTC
TARGET_MS = 100
STATS = "count totalSeconds averageSeconds minSeconds maxSeconds p50Seconds p95Seconds"
FULL_SELECTION = f"""query($c: ID!, $range: DateRangeInput) {{ campaign(id: $c) {{ analytics(range: $range) {{
  throughput {{ progress {{ totalTasks inProgress toRework done skipped percent byStep {{ step {{ name }} count }} }}
    tasksByStep {{ step {{ name }} count }} annotationSubmissions {{ start count }} reviewSubmissions {{ start count }}
    assignmentsByWorker {{ user {{ username }} count }} issuesCreated {{ start count }} issuesByKind {{ kind count }} }}
  efficiency {{ taskDuration {{ {STATS} }} issuesOpened issuesClosed annotation {{ {STATS} }} review {{ {STATS} }}
    annotationTime {{ start count totalSeconds averageSeconds }} reviewTime {{ start count totalSeconds averageSeconds }} }}
  quality {{ shapesByLabel {{ label {{ name }} count }} assetsByShapeCount {{ lower upper count }}
    shapeAreas {{ lower upper count }} assetAreas {{ lower upper count }} }} }} }} }}"""
# The contract's fields only: p50Seconds/p95Seconds (an addition) are ranked only when selected.
CONTRACT_SELECTION = FULL_SELECTION.replace(" p50Seconds p95Seconds", "")
POLYGON_ANNOTATION = ('[{{"label": {label}, "kind": "RECTANGLE", "points": [[10.0, 20.0], [300.0, 200.0]]}},'
                      ' {{"label": {label}, "kind": "POLYGON", "points": [[0, 0], [400, 0], [400, 300], [0, 300]]}}]')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=20, help="timed requests per variant and backend (default 20)")
    parser.add_argument("--statements", action="store_true", help="then time each SQL statement of one request")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--timeout", type=float, default=3600, help="bound on the whole run, in seconds (default 3600)")
    return parser.parse_args(argv)


async def add_events_and_issues(database_url: str, campaign_pk: int, steps: list[int], users: list[int]) -> None:
    """900,000 events and 10,000 issues in set-based statements; a polygon on every fourth asset."""
    from stepwise.models.db import sql
    from stepwise.models.db.lifecycle import open_database

    annotate, review = steps
    kind = "CASE j % 3 WHEN 0 THEN 'STARTED' WHEN 1 THEN 'SUBMITTED' ELSE 'SENT_TO_REWORK' END"
    step = f"CASE WHEN j % 2 = 0 THEN {annotate} ELSE {review} END"
    actor = f"CASE (t.id + j) % 3 WHEN 0 THEN {users[0]} WHEN 1 THEN {users[1]} ELSE {users[2]} END"
    offset = f"((CAST(t.id AS BIGINT) * {EVENTS_PER_TASK} + j) * 7919) % {DAYS * 86_400}"
    duration = "CASE WHEN j % 3 = 0 THEN NULL ELSE ((t.id * 31 + j * 17) % 3600) + 10 END"
    async with open_database(database_url):
        postgres = sql.is_postgres(sql.current_connection())
        at = (f"to_timestamp({BASE_EPOCH} + {offset})" if postgres
              else f"strftime('%Y-%m-%d %H:%M:%S', {BASE_EPOCH} + {offset}, 'unixepoch') || '+00:00'")
        numbers = (f"generate_series(1, {EVENTS_PER_TASK}) AS k(j)" if postgres
                   else f"(WITH RECURSIVE k(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM k WHERE j < {EVENTS_PER_TASK})"
                        " SELECT j FROM k) AS k")
        await sql.execute(
            "INSERT INTO task_event (task_id, campaign_id, kind, step_id, actor_id, assignee_id, at, duration_seconds)"
            f" SELECT t.id, t.campaign_id, {kind}, {step}, {actor}, {actor}, {at}, {duration}"
            f" FROM task t CROSS JOIN {numbers} WHERE t.campaign_id = ?", [campaign_pk])
        created = (f"to_timestamp({BASE_EPOCH} + (CAST(t.id AS BIGINT) * 7919) % {DAYS * 86_400})" if postgres
                   else f"strftime('%Y-%m-%d %H:%M:%S', {BASE_EPOCH} + (CAST(t.id AS BIGINT) * 7919) % {DAYS * 86_400}, 'unixepoch')"
                        " || '+00:00'")
        resolved = f"CASE WHEN t.id % 20 = 0 THEN {created} END"
        await sql.execute(
            "INSERT INTO issue (campaign_id, asset_id, kind, status, author_id, step_id, created_at, resolved_at,"
            " resolved_by_id)"
            f" SELECT t.campaign_id, t.asset_id, CASE WHEN t.id % 3 = 0 THEN 'ZONE' ELSE 'IMAGE' END,"
            f" CASE WHEN t.id % 20 = 0 THEN 'RESOLVED' ELSE 'OPEN' END, {users[2]}, {review}, {created}, {resolved},"
            f" CASE WHEN t.id % 20 = 0 THEN {users[0]} END FROM task t WHERE t.campaign_id = ? AND t.id % 10 = 0",
            [campaign_pk])
        label = (await sql.fetch("SELECT MIN(l.id) FROM label l JOIN campaign c ON c.version_id = l.version_id"
                                 " WHERE c.id = ?", [campaign_pk]))[0][0]
        cast = "::jsonb" if postgres else ""
        await sql.execute(f"UPDATE asset SET annotation = ?{cast} WHERE id % 4 = 0 AND version_id ="
                          " (SELECT version_id FROM campaign WHERE id = ?)",
                          [POLYGON_ANNOTATION.format(label=label), campaign_pk])
        # These rows were written around the writers that keep the analytics rollups: rebuild the
        # campaign's and its version's rollups from them, as migration 0006 backfills.
        from stepwise.models.actions.rollups import completion_rebuild, quality_rebuild

        version = (await sql.fetch("SELECT version_id FROM campaign WHERE id = ?", [campaign_pk]))[0][0]
        async with sql.bulk_transaction():
            for statement in [*completion_rebuild(postgres, campaign_pk), *quality_rebuild(postgres, version)]:
                await sql.execute(*statement)
        events = (await sql.fetch("SELECT COUNT(*) FROM task_event WHERE campaign_id = ?", [campaign_pk]))[0][0]
    if events != ASSETS * (EVENTS_PER_TASK + 1):
        raise BenchError(f"{events} events, expected {ASSETS * (EVENTS_PER_TASK + 1)}")


async def timed(api, campaign_id: str, variables: dict, rounds: int, query: str = FULL_SELECTION) -> list[float]:
    body = json.dumps({"query": query, "variables": {"c": campaign_id, **variables}}).encode()
    data = await api.post_raw(body)  # warm-up, and a check of the figures
    analytics = data["campaign"]["analytics"]
    if analytics["throughput"]["progress"]["totalTasks"] != ASSETS or analytics["efficiency"]["taskDuration"]["count"] == 0:
        raise BenchError(f"unexpected figures: {json.dumps(analytics)[:500]}")
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        await api.post_raw(body)
        times.append((time.perf_counter() - started) * 1000)
    return times


async def bench_backend(backend: str, args: argparse.Namespace) -> list[dict]:
    rows = []
    say(f"[{backend}] fresh database, starting the server...")
    async with fresh_database(backend, args.postgres_url) as env:
        async with running_server(env) as server, http_api(server.base) as api:
            await sign_up_manager(api)
            dataset_id = await create_dataset(api)
            team = await setup_team(api, dataset_id, ["annotator1", "annotator2", "reviewer1"])
            version_id = await create_version(api, dataset_id, "v1")
            await insert_assets_sql(env["STEPWISE_DATABASE_URL"], pk_of(version_id), ASSETS, annotated_every=1)
            steps = [("Annotate", "ANNOTATION", [team["annotator1"][1], team["annotator2"][1]]),
                     ("Review", "REVIEW", [team["reviewer1"][1]])]
            campaign_id = await create_campaign(api, version_id, steps, "ROUND_ROBIN")
            await launch(api, campaign_id)
            step_ids = await api.data("query($c: ID!) { campaign(id: $c) { steps { id } } }", {"c": campaign_id})
            started = time.perf_counter()
            await add_events_and_issues(env["STEPWISE_DATABASE_URL"], pk_of(campaign_id),
                                        [pk_of(s["id"]) for s in step_ids["campaign"]["steps"]],
                                        [pk_of(team[n][1]) for n in ("annotator1", "annotator2", "reviewer1")])
            await analyze(env["STEPWISE_DATABASE_URL"])
            say(f"[{backend}] 1,000,000 events, 10,000 issues, 100,000 annotated assets in "
                f"{time.perf_counter() - started:.1f} s; {load_average()}")
            window = {"from": "2030-01-01T00:00:00Z", "to": "2030-01-31T00:00:00Z"}
            edges = {"from": "2030-01-01T00:30:00Z", "to": "2030-01-30T23:45:00Z"}
            for label, variables, query in (("30-day range, DAY", {"range": window}, FULL_SELECTION),
                                            ("no range, DAY", {}, FULL_SELECTION),
                                            ("30-day, no p50/p95", {"range": window}, CONTRACT_SELECTION),
                                            # edges inside an hour: those minutes are read from the events
                                            ("30-day, minute edges", {"range": edges}, FULL_SELECTION)):
                times = await timed(api, campaign_id, variables, args.rounds, query)
                p50, p95 = percentile(times, 50), percentile(times, 95)
                say(f"[{backend}] {label:<18} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  ({args.rounds} requests)")
                rows.append({"backend": backend, "variant": label, "p50": p50, "p95": p95, "load": load_average()})
        if args.statements:
            await timed_statements(env["STEPWISE_DATABASE_URL"], pk_of(campaign_id), backend)
    return rows


async def timed_statements(database_url: str, campaign_pk: int, backend: str) -> None:
    """Each statement of one full selection (30-day range), timed in process (no server running)."""
    from datetime import UTC, datetime

    from stepwise.models.db import sql
    from stepwise.models.db.lifecycle import open_database
    from stepwise.models.queries import analytics as q
    from stepwise.models.queries import quality
    from stepwise.models.workflow import StepType

    async with open_database(database_url):
        original = sql.fetch_scan

        async def timing(statement, params=()):
            started = time.perf_counter()
            rows = await original(statement, params)
            say(f"    {(time.perf_counter() - started) * 1000:8.1f} ms  {len(rows):5} rows  {' '.join(statement.split())[:110]}")
            return rows

        sql.fetch_scan = timing
        try:
            steps = await sql.fetch("SELECT id, type FROM step WHERE campaign_id = ? ORDER BY position", [campaign_pk])
            version = (await sql.fetch("SELECT version_id FROM campaign WHERE id = ?", [campaign_pk]))[0][0]
            query = q.AnalyticsFilter(campaign_pk, datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 31, tzinfo=UTC))
            say(f"[{backend}] statements of one request:")
            types = {sid: StepType(t) for sid, t in steps}
            figures = await q.efficiency(query, types)
            await q.percentiles(query, types, figures)
            await q.issue_figures(query)
            await q.active_tasks(query)
            await quality.version_quality(version, 10)
        finally:
            sql.fetch_scan = original


async def main(args: argparse.Namespace) -> None:
    results = []
    for backend in await backends_to_run(args.backend, args.postgres_url):
        results += await bench_backend(backend, args)
    say("")
    say("Campaign.analytics, every field, 1,000,000 task events, 100,000 annotated assets, over HTTP")
    for r in results:
        verdict = "met" if r["p95"] <= TARGET_MS else "MISSED"
        say(f"{r['backend']:<9}{r['variant']:<20}p50 {r['p50']:7.1f} ms  p95 {r['p95']:7.1f} ms "
            f"(target p95 <= {TARGET_MS} ms: {verdict}; {r['load']})")


if __name__ == "__main__":
    arguments = parse_args()
    sys.exit(run_bounded(lambda: main(arguments), arguments.timeout))
