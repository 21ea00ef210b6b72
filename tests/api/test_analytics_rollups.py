"""The analytics rollups (models/db/rollups.py) equal a from-scratch computation after a random
sequence of actions through the API, on SQLite and PostgreSQL. The from-scratch statements are
migration 0006's backfill (models/actions/rollups.py), so this also checks the backfill."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from campaign_helpers import (
    ASSETS,
    BOX,
    ISSUE,
    LAUNCH,
    REASSIGN,
    REWORK,
    SKIP,
    START,
    SUBMIT,
    act,
    add_assets,
    all_tasks,
    campaign_with_steps,
)
from test_analytics import fake_clock  # noqa: F401  (the fixture)

from stepwise.models.actions.rollups import completion_rebuild, quality_rebuild, task_count_rebuild
from stepwise.models.db import sql
from stepwise.models.queries import analytics as q
from stepwise.schema.ids import parse_id

POLYGON = {"label": "person", "kind": "POLYGON", "points": [{"x": 0, "y": 0}, {"x": 10, "y": 0}, {"x": 10, "y": 7}]}
LINE = {"label": "car", "kind": "LINE", "points": [{"x": 1, "y": 1}, {"x": 9, "y": 3}]}
ISSUES = "query($t: ID!) { task(id: $t) { issues { id status } } }"
RESOLVE = "mutation($i: CommentIssueInput!) { resolveIssue(input: $i) { errors { code } } }"


async def _rollup_rows() -> tuple[list, list, list, list]:
    completions = [*await sql.fetch("SELECT * FROM completion_rollup ORDER BY campaign_id, hour, step_id, actor_id, kind"),
                   *await sql.fetch("SELECT * FROM completion_day_rollup ORDER BY campaign_id, day, step_id, actor_id, kind")]
    quality = await sql.fetch("SELECT version_id, kind, label_id, value, n FROM quality_value_count WHERE n <> 0"
                              " ORDER BY version_id, kind, label_id, value")
    tasks = await sql.fetch("SELECT campaign_id, status, step_id, assignee_id, n FROM task_count WHERE n <> 0"
                            " ORDER BY campaign_id, status, step_id, assignee_id")
    # submits: only the campaign's sum means something (each submit is added where the task went)
    submits = await sql.fetch("SELECT campaign_id, SUM(submits) FROM task_count GROUP BY campaign_id ORDER BY 1")
    # total_seconds rounded: the upserts add one duration at a time, a rebuild sums them in another order
    return ([tuple(round(v, 6) if isinstance(v, float) else v for v in tuple(row)[1:]) for row in completions], [tuple(row) for row in quality], [tuple(row) for row in tasks],
            [(campaign, int(total)) for campaign, total in submits])


async def _rebuilt() -> tuple[list, list, list, list]:
    postgres = sql.is_postgres(sql.current_connection())
    async with sql.bulk_transaction():  # on SQLite: on the connection thread, as the migration runs
        for statement in [*completion_rebuild(postgres), *quality_rebuild(postgres), *task_count_rebuild()]:
            await sql.execute(*statement)
    return await _rollup_rows()


def _shapes(rng: random.Random) -> list[dict]:
    pick = [BOX, POLYGON, LINE, {**BOX, "points": [{"x": 2, "y": 3}, {"x": 2 + rng.randint(1, 50), "y": 40}]}]
    return [rng.choice(pick) for _ in range(rng.randint(0, 3))]


@pytest.mark.parametrize("seed", [1, 2])
async def test_rollups_equal_a_computation_from_scratch_after_random_actions(api, world, fake_clock, seed):
    rng = random.Random(seed)
    tokens = {"labeler1": world.labeler, "contributor1": world.contributor, "manager1": world.manager}
    fake_clock["now"] = datetime(2030, 1, 7, 9, 17, 23, tzinfo=UTC)
    names = [f"{i:02}.jpg" for i in range(12)]
    await add_assets(api, world, names, annotated=names[::3])
    campaign, _ = await campaign_with_steps(
        api, world, [("Annotate", "ANNOTATION", ["labeler1", "contributor1"]), ("Review", "REVIEW", ["manager1"])])
    assert (await api.data(LAUNCH, {"c": campaign}, world.manager))["launchCampaign"]["errors"] == []
    done = 0
    for round_ in range(60):
        fake_clock["now"] += timedelta(seconds=rng.choice([0.4, 7, 95, 1_000, 3_599, 7_300]))
        if round_ == 30:  # assets added while the campaign runs, with shapes on some
            extra = [{"filename": f"late{round_}-{i}.jpg", "width": rng.randint(10, 300), "height": 50,
                      **({"shapes": [POLYGON, BOX]} if i % 2 else {})} for i in range(4)]
            payload = (await api.data(ASSETS, {"i": {"datasetVersionId": world.ids["version"], "assets": extra}},
                                      world.manager))["addAssets"]
            assert payload["errors"] == []
        active = [t for t in await all_tasks(api, world, campaign) if t["status"] in ("IN_PROGRESS", "TO_REWORK")]
        if not active:
            break
        task = rng.choice(active)
        token = tokens[task["assignee"]["username"]]
        choice = rng.random()
        timing = {"activeSeconds": rng.choice([0.2, 42.5, 600, 86_400])} if rng.random() < 0.5 else {}
        if choice < 0.08:  # a MANAGER gives it to the other annotator (or back)
            other = {"labeler1": "contributor", "contributor1": "labeler"}.get(task["assignee"]["username"])
            if other is not None and task["step"]["name"] == "Annotate":
                assert (await act(api, REASSIGN, {"taskId": task["id"], "assigneeId": world.ids[other]}, world.manager))["errors"] == []
        elif choice < 0.2:
            await act(api, START, {"taskId": task["id"]}, token)
        elif choice < 0.35 and task["step"]["name"] == "Review":
            await act(api, REWORK, {"taskId": task["id"], "issue": ISSUE}, token)
        elif choice < 0.42:
            await act(api, SKIP, {"taskId": task["id"], "issue": ISSUE}, token)
        else:
            for issue in (await api.data(ISSUES, {"t": task["id"]}, world.manager))["task"]["issues"]:
                if issue["status"] == "OPEN":
                    await api.data(RESOLVE, {"i": {"issueId": issue["id"]}}, world.manager)
            payload = await act(api, SUBMIT, {"taskId": task["id"], "shapes": _shapes(rng), **timing}, token)
            done += payload["errors"] == [] and payload["task"]["status"] == "DONE"
    maintained = await _rollup_rows()
    assert done > 0 and maintained[0] and any(kind == "SHAPE" for _, kind, *_ in maintained[1])
    rebuilt = await _rebuilt()
    for got, expected in zip(maintained, rebuilt, strict=True):
        assert sorted(set(got) ^ set(expected)) == [] and got == expected


@pytest.mark.parametrize(("steps", "settings"), [
    # Three holders for seven assets: shares of 3, 2, 2 from where the rotation starts.
    ([("Annotate", "ANNOTATION", ["labeler1", "contributor1", "manager1"])], {}),
    # Annotated assets DONE at once, the others through the rotation.
    ([("Annotate", "ANNOTATION", ["labeler1", "contributor1"])], {"preexistingAnnotationStrategy": "DONE"}),
    # Annotated assets enter Review, whose LEAST_LOADED holders are loaded unevenly by Annotate's
    # tasks: attributed in memory, not by the set-based rotation.
    ([("Annotate", "ANNOTATION", ["labeler1", "contributor1"]), ("Review", "REVIEW", ["labeler1", "manager1"])],
     {"preexistingAnnotationStrategy": "FIRST_QUALITY_CHECK", "attributionPolicy": "LEAST_LOADED"}),
])
async def test_task_counts_written_at_launch_and_for_new_assets_equal_a_rebuild(api, world, steps, settings):
    """A launch (and later assets' tasks) counts its tasks as it attributes them, not by reading
    them back: the counts are those a rebuild from the task rows gives."""
    names = [f"{i:02}.jpg" for i in range(7)]
    await add_assets(api, world, names, annotated=names[::3])
    campaign, _ = await campaign_with_steps(api, world, steps, **settings)
    assert (await api.data(LAUNCH, {"c": campaign}, world.manager))["launchCampaign"]["errors"] == []
    counted = (await _rollup_rows())[2]
    assert sum(row[4] for row in counted) == 7 and counted == (await _rebuilt())[2]
    await add_assets(api, world, ["late1.jpg", "late2.jpg", "late3.jpg"], annotated=["late1.jpg"])
    counted = (await _rollup_rows())[2]
    assert sum(row[4] for row in counted) == 10 and counted == (await _rebuilt())[2]


async def test_binned_percentiles_are_within_a_bin_of_the_exact_ones(api, world, fake_clock, monkeypatch):
    """Past EXACT_PERCENTILES_UP_TO durations, p50/p95 come from the rollup's bins: within a
    factor 2^(1/8) of the exact nearest-rank values (here forced with a threshold of 0), and a
    range with edges inside an hour reads those edges from the events."""
    from test_analytics import run_campaign

    c = await run_campaign(api, world, fake_clock)
    query = """query($c: ID!, $range: DateRangeInput) { campaign(id: $c) { analytics(range: $range) { efficiency {
      taskDuration { count p50Seconds p95Seconds } annotation { count p50Seconds p95Seconds } } } } }"""
    for range_ in (None, {"from": "2030-01-07T10:35:00Z", "to": "2030-01-10T12:31:00Z"}):
        variables = {"c": c["campaign"], **({"range": range_} if range_ else {})}
        exact = (await api.data(query, variables, world.manager))["campaign"]["analytics"]["efficiency"]
        monkeypatch.setattr(q, "EXACT_PERCENTILES_UP_TO", 0)
        binned = (await api.data(query, variables, world.manager))["campaign"]["analytics"]["efficiency"]
        monkeypatch.setattr(q, "EXACT_PERCENTILES_UP_TO", 5_000)
        for group in ("taskDuration", "annotation"):
            assert binned[group]["count"] == exact[group]["count"] > 0
            for key in ("p50Seconds", "p95Seconds"):
                ratio = binned[group][key] / exact[group][key]
                assert 2 ** (-1 / 8) <= ratio <= 2 ** (1 / 8), (group, key, binned, exact)


async def test_the_rollup_statement_reads_its_unique_index(api, world, fake_clock):
    from test_analytics import _plan, run_campaign

    c = await run_campaign(api, world, fake_clock)
    query = q.AnalyticsFilter(parse_id(c["campaign"])[1], datetime(2030, 1, 7, tzinfo=UTC),
                              datetime(2030, 1, 11, tzinfo=UTC), granularity="HOUR")
    hours, edges = q.split_by_hours(query)
    assert edges == []
    plan = await _plan(*q.rollup_completions_statement(query, hours))
    assert "completion_rollup" in plan and ("INDEX" in plan or "Index" in plan), plan
    assert "Seq Scan" not in plan and not any(line.startswith("SCAN completion_rollup") for line in plan.splitlines())


async def test_migration_0010_merges_exact_areas_into_their_rounded_rows(api, world, monkeypatch):
    """A database from before keeps one row per exact area; migration 0010 leaves the counts a
    rebuild at three significant digits gives (several exact areas share one rounded row)."""
    import importlib
    from types import SimpleNamespace

    from stepwise.models.actions import rollups

    migration = importlib.import_module("stepwise.models.db.migrations.0010_quality_area_precision")
    assets = [{"filename": f"m{i}.jpg", "width": 1000 + i, "height": 40,
               "shapes": [{**BOX, "points": [{"x": 0, "y": 0}, {"x": 100 + i, "y": 37.5}]}, POLYGON]} for i in range(12)]
    payload = (await api.data(ASSETS, {"i": {"datasetVersionId": world.ids["version"], "assets": assets}},
                              world.manager))["addAssets"]
    assert payload["errors"] == []
    expected = (await _rebuilt())[1]
    monkeypatch.setattr(rollups, "kept_area", lambda x, postgres: x)  # the counts as written before 0010
    exact = (await _rebuilt())[1]
    monkeypatch.undo()
    assert len(exact) > len(expected) and sum(r[4] for r in exact) == sum(r[4] for r in expected)
    async with sql.bulk_transaction():
        await migration.merge_rounded(None, SimpleNamespace(client=sql.current_connection()))
    assert (await _rollup_rows())[1] == expected
    assert 3_790.0 in {row[3] for row in expected}  # the box 101 × 37.5 = 3,787.5 counts as 3,790
