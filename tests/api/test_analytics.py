"""Campaign.analytics and DatasetVersion.quality on a small campaign driven with a fake clock.

Every expected figure is worked out by hand from RULES.md ("Progress and analytics") and
docs/api.md ("Analytics"); the arithmetic is in the comments. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from campaign_helpers import ISSUE, LAUNCH, REWORK, START, SUBMIT, act, add_assets, all_tasks, campaign_with_steps

from stepwise.models import clock as server_clock
from stepwise.models.db import sql
from stepwise.schema.ids import encode_id

STATS = "count totalSeconds averageSeconds minSeconds maxSeconds p50Seconds p95Seconds"
SERIES = "start count"
ANALYTICS = f"""query($c: ID!, $range: DateRangeInput, $step: ID, $who: ID, $g: Granularity) {{ campaign(id: $c) {{
  analytics(range: $range, stepId: $step, assigneeId: $who, granularity: $g) {{
    throughput {{ progress {{ totalTasks inProgress toRework done skipped percent }}
      tasksByStep {{ step {{ name }} count }} annotationSubmissions {{ {SERIES} }} reviewSubmissions {{ {SERIES} }}
      assignmentsByWorker {{ user {{ username }} count }} issuesCreated {{ {SERIES} }} issuesByKind {{ kind count }} }}
    efficiency {{ taskDuration {{ {STATS} }} issuesOpened issuesClosed annotation {{ {STATS} }} review {{ {STATS} }}
      annotationTime {{ start count totalSeconds averageSeconds }} reviewTime {{ start count totalSeconds averageSeconds }} }}
    quality {{ shapesByLabel {{ label {{ name }} count }} assetsByShapeCount {{ lower upper count }}
      shapeAreas {{ lower upper count }} assetAreas {{ lower upper count }} }} }} }} }}"""
QUALITY = """query($v: ID!, $bins: Int) { datasetVersion(id: $v) { quality(bins: $bins) {
  shapesByLabel { label { name } count } assetsByShapeCount { lower upper count } shapeAreas { lower upper count }
  assetAreas { lower upper count } } } }"""
RESOLVE = "mutation($i: CommentIssueInput!) { resolveIssue(input: $i) { errors { code } } }"
MONDAY = datetime(2030, 1, 7, tzinfo=UTC)  # 2030-01-07 is a Monday


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2030, 1, day, hour, minute, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def series(data: list[dict]) -> list[tuple[str, int]]:
    return [(b["start"], b["count"]) for b in data]


def stats(count, total, low, high, p50, p95) -> dict:
    return {"count": count, "totalSeconds": total, "averageSeconds": total / count if count else None,
            "minSeconds": low, "maxSeconds": high, "p50Seconds": p50, "p95Seconds": p95}


@pytest.fixture
def fake_clock():
    state = {"now": at(7, 10)}
    server_clock.set_clock(lambda: state["now"])
    yield state
    server_clock.set_clock(None)


async def run_campaign(api, world, fake_clock) -> dict:
    """Steps [Annotate (labeler1, contributor1), Review (manager1)], assets a b c d (round robin:
    a, c -> labeler1; b, d -> contributor1), launched Monday 2030-01-07 10:00 UTC. Completions:

    E1 01-07 10:40 labeler1 submits a at Annotate, started 10:10: 1800 s
    E2 01-07 11:00 contributor1 submits b at Annotate, activeSeconds 600
    E3 01-07 11:30 contributor1 submits d at Annotate, never started: since entry 10:00, 5400 s
    E4 01-08 09:00 manager1 sends a to rework at Review (raising IMAGE issue I1), started 08:50: 600 s
    E5 01-08 09:30 manager1 submits b at Review (DONE), activeSeconds 300
    I1 resolved 01-10 12:00 by labeler1; E6 01-10 12:30 labeler1 submits a at Annotate, activeSeconds 900
    Nothing on 01-09 (an empty day inside the span).
    """
    await add_assets(api, world, ["a.jpg", "b.jpg", "c.jpg", "d.jpg"])
    campaign, step_ids = await campaign_with_steps(
        api, world, [("Annotate", "ANNOTATION", ["labeler1", "contributor1"]), ("Review", "REVIEW", ["manager1"])])
    assert (await api.data(LAUNCH, {"c": campaign}, world.manager))["launchCampaign"]["errors"] == []
    tasks = {t["asset"]["filename"]: t["id"] for t in await all_tasks(api, world, campaign)}

    async def do(moment, query, variables, token):
        fake_clock["now"] = moment
        payload = await act(api, query, variables, token)
        assert payload["errors"] == [], payload
        return payload

    await do(at(7, 10, 10), START, {"taskId": tasks["a.jpg"]}, world.labeler)
    await do(at(7, 10, 40), SUBMIT, {"taskId": tasks["a.jpg"]}, world.labeler)
    await do(at(7, 11), SUBMIT, {"taskId": tasks["b.jpg"], "activeSeconds": 600}, world.contributor)
    await do(at(7, 11, 30), SUBMIT, {"taskId": tasks["d.jpg"]}, world.contributor)
    await do(at(8, 8, 50), START, {"taskId": tasks["a.jpg"]}, world.manager)
    await do(at(8, 9), REWORK, {"taskId": tasks["a.jpg"], "issue": ISSUE}, world.manager)
    await do(at(8, 9, 30), SUBMIT, {"taskId": tasks["b.jpg"], "activeSeconds": 300}, world.manager)
    issue = (await api.data("query($t: ID!) { task(id: $t) { issues { id } } }", {"t": tasks["a.jpg"]},
                            world.manager))["task"]["issues"][0]["id"]
    fake_clock["now"] = at(10, 12)
    assert (await api.data(RESOLVE, {"i": {"issueId": issue}}, world.labeler))["resolveIssue"]["errors"] == []
    await do(at(10, 12, 30), SUBMIT, {"taskId": tasks["a.jpg"], "activeSeconds": 900}, world.labeler)
    return {"campaign": campaign, "steps": dict(zip(("Annotate", "Review"), step_ids, strict=True))}


async def analytics(api, world, campaign, token=None, **variables) -> dict:
    data = await api.data(ANALYTICS, {"c": campaign, **variables}, token or world.manager)
    return data["campaign"]["analytics"]


DAYS = ["2030-01-07T00:00:00+00:00", "2030-01-08T00:00:00+00:00", "2030-01-09T00:00:00+00:00",
        "2030-01-10T00:00:00+00:00"]


async def test_every_figure_of_a_campaign_without_filters(api, world, fake_clock):
    c = await run_campaign(api, world, fake_clock)
    result = await analytics(api, world, c["campaign"])
    t, e, q = result["throughput"], result["efficiency"], result["quality"]
    # a at Review (IN_PROGRESS), b DONE, c at Annotate, d at Review. S = 5 submits (E1 E2 E3 E5 E6),
    # R = a 1 + c 2 + d 1 = 4: 100 × 5 / 9.
    assert t["progress"] == {"totalTasks": 4, "inProgress": 3, "toRework": 0, "done": 1, "skipped": 0,
                             "percent": pytest.approx(500 / 9)}
    assert [(s["step"]["name"], s["count"]) for s in t["tasksByStep"]] == [("Annotate", 1), ("Review", 2)]
    assert [(w["user"]["username"], w["count"]) for w in t["assignmentsByWorker"]] == [("manager1", 2), ("labeler1", 1)]
    # Buckets span the days holding data, 01-07 to 01-10; 01-09 is empty but listed.
    assert series(t["annotationSubmissions"]) == list(zip(DAYS, [3, 0, 0, 1], strict=True))  # E1 E2 E3 | E6
    assert series(t["reviewSubmissions"]) == list(zip(DAYS, [0, 1, 0, 0], strict=True))  # E5 (E4 is a rework)
    assert series(t["issuesCreated"]) == list(zip(DAYS, [0, 1, 0, 0], strict=True))
    assert t["issuesByKind"] == [{"kind": "ZONE", "count": 0}, {"kind": "IMAGE", "count": 1}]
    # All six: 1800 + 600 + 5400 + 600 + 300 + 900 = 9600; sorted 300 600 600 900 1800 5400:
    # p50 = rank ceil(0.5 × 6) = 3 → 600, p95 = rank ceil(0.95 × 6) = 6 → 5400.
    assert e["taskDuration"] == stats(6, 9600.0, 300.0, 5400.0, 600.0, 5400.0)
    # Annotate: 600 900 1800 5400 = 8700; p50 rank 2 → 900, p95 rank ceil(3.8) = 4 → 5400.
    assert e["annotation"] == stats(4, 8700.0, 600.0, 5400.0, 900.0, 5400.0)
    # Review: 300 600 = 900; p50 rank 1 → 300, p95 rank ceil(1.9) = 2 → 600.
    assert e["review"] == stats(2, 900.0, 300.0, 600.0, 300.0, 600.0)
    assert e["issuesOpened"] == 1 and e["issuesClosed"] == 1
    # Annotate per day: 01-07 E1 E2 E3 = 7800 (avg 2600); 01-10 E6 = 900. Review: 01-08 E4 E5 = 900.
    assert [(b["count"], b["totalSeconds"], b["averageSeconds"]) for b in e["annotationTime"]] == [
        (3, 7800.0, 2600.0), (0, 0.0, None), (0, 0.0, None), (1, 900.0, 900.0)]
    assert [(b["count"], b["totalSeconds"], b["averageSeconds"]) for b in e["reviewTime"]] == [
        (0, 0.0, None), (2, 900.0, 450.0), (0, 0.0, None), (0, 0.0, None)]
    assert [b["start"] for b in e["reviewTime"]] == DAYS
    # Quality: b's accepted annotation is [] (DONE without shapes); every asset is 100 × 100.
    assert q["shapesByLabel"] == [{"label": {"name": "car"}, "count": 0}, {"label": {"name": "person"}, "count": 0}]
    assert q["assetsByShapeCount"] == [{"lower": 0.0, "upper": 0.0, "count": 1}]
    assert q["shapeAreas"] == []
    assert q["assetAreas"] == [{"lower": 10000.0, "upper": 10000.0, "count": 4}]
    assert await analytics(api, world, c["campaign"], world.contributor) == result


async def test_labelers_get_no_analytics_even_through_their_own_task(api, world, fake_clock):
    c = await run_campaign(api, world, fake_clock)
    own = [t for t in await all_tasks(api, world, c["campaign"]) if (t["assignee"] or {}).get("username") == "labeler1"]
    assert own
    body = await api.post(ANALYTICS, {"c": c["campaign"]}, world.labeler)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN" and body["data"] == {"campaign": None}
    through_task = """query($t: ID!) { task(id: $t) { id campaign { datasetVersion { quality { assetAreas { count } } } } } }"""
    body = await api.post(through_task, {"t": own[0]["id"]}, world.labeler)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    assert body["errors"][0]["path"][-1] == "quality"
    my_tasks = """query($o: ID!) { myTasks(organizationId: $o) { campaign { analytics { efficiency { issuesOpened } } } } }"""
    body = await api.post(my_tasks, {"o": world.ids["org"]}, world.labeler)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body


async def test_range_is_from_inclusive_to_exclusive_in_hour_buckets(api, world, fake_clock):
    c = await run_campaign(api, world, fake_clock)
    window = {"from": iso(at(7, 11)), "to": iso(at(8, 9, 30))}
    result = await analytics(api, world, c["campaign"], range=window, g="HOUR")
    t, e = result["throughput"], result["efficiency"]
    # In: E2 (11:00, the start itself), E3 (11:30), E4 (09:00), I1 (09:00). Out: E1 (10:40) and E5 (09:30, the end).
    # Hours from 01-07 11:00 to 01-08 09:00 (the last starting before 09:30): 13 + 10 = 23 buckets.
    hours = [iso(at(7, 11) + timedelta(hours=h)).replace("Z", "+00:00") for h in range(23)]
    assert [b["start"] for b in t["annotationSubmissions"]] == hours
    assert series(t["annotationSubmissions"]) == [(h, 2 if i == 0 else 0) for i, h in enumerate(hours)]
    assert series(t["reviewSubmissions"]) == [(h, 0) for h in hours]
    assert series(t["issuesCreated"]) == [(h, 1 if i == 22 else 0) for i, h in enumerate(hours)]
    # E2 600, E3 5400, E4 600: p50 rank 2 → 600, p95 rank 3 → 5400.
    assert e["taskDuration"] == stats(3, 6600.0, 600.0, 5400.0, 600.0, 5400.0)
    assert e["annotation"] == stats(2, 6000.0, 600.0, 5400.0, 600.0, 5400.0)
    assert e["review"] == stats(1, 600.0, 600.0, 600.0, 600.0, 600.0)
    assert (e["issuesOpened"], e["issuesClosed"]) == (1, 0)  # I1 was resolved on 01-10, outside
    assert [b["count"] for b in e["annotationTime"]] == [2] + [0] * 22
    assert [b["count"] for b in e["reviewTime"]] == [0] * 22 + [1]
    # The current state is not narrowed by the range.
    assert [(s["step"]["name"], s["count"]) for s in t["tasksByStep"]] == [("Annotate", 1), ("Review", 2)]


async def test_week_buckets_start_on_monday_and_cover_the_range(api, world, fake_clock):
    c = await run_campaign(api, world, fake_clock)
    result = await analytics(api, world, c["campaign"], g="WEEK")
    # Everything happened from Monday 01-07 to Thursday 01-10: one week.
    assert series(result["throughput"]["annotationSubmissions"]) == [("2030-01-07T00:00:00+00:00", 4)]
    window = {"from": "2030-01-01T00:00:00Z", "to": "2030-01-15T00:00:00Z"}
    result = await analytics(api, world, c["campaign"], range=window, g="WEEK")
    # Weeks meeting [01-01, 01-15): those starting Monday 2029-12-31, 01-07 and 01-14.
    assert series(result["throughput"]["annotationSubmissions"]) == [
        ("2029-12-31T00:00:00+00:00", 0), ("2030-01-07T00:00:00+00:00", 4), ("2030-01-14T00:00:00+00:00", 0)]
    assert [b["totalSeconds"] for b in result["efficiency"]["reviewTime"]] == [0.0, 900.0, 0.0]
    result = await analytics(api, world, c["campaign"], g="HOUR")
    # 01-07 10:00 to 01-10 12:00: 3 × 24 + 2 + 1 = 75 hours, 4 of them with annotation submissions.
    hours = result["throughput"]["annotationSubmissions"]
    assert len(hours) == 75 and sum(h["count"] for h in hours) == 4
    assert [h["count"] for h in hours[:2]] == [1, 2]  # 10:00 E1; 11:00 E2 E3


async def test_step_and_worker_filters(api, world, fake_clock):
    c = await run_campaign(api, world, fake_clock)
    review = await analytics(api, world, c["campaign"], step=c["steps"]["Review"])
    # Only Review: E4 600, E5 300; data only on 01-08, so one bucket.
    assert review["efficiency"]["taskDuration"] == stats(2, 900.0, 300.0, 600.0, 300.0, 600.0)
    assert review["efficiency"]["annotation"]["count"] == 0
    assert series(review["throughput"]["reviewSubmissions"]) == [(DAYS[1], 1)]
    assert series(review["throughput"]["annotationSubmissions"]) == [(DAYS[1], 0)]
    assert [(s["step"]["name"], s["count"]) for s in review["throughput"]["tasksByStep"]] == [("Review", 2)]
    assert [(w["user"]["username"], w["count"]) for w in review["throughput"]["assignmentsByWorker"]] == [("manager1", 2)]
    assert (review["efficiency"]["issuesOpened"], review["efficiency"]["issuesClosed"]) == (1, 1)  # I1 was raised at Review

    contributor = await analytics(api, world, c["campaign"], who=world.ids["contributor"])
    # contributor1 did E2 (600) and E3 (5400), both on 01-07; holds no active task; raised no issue.
    assert contributor["efficiency"]["annotation"] == stats(2, 6000.0, 600.0, 5400.0, 600.0, 5400.0)
    assert contributor["efficiency"]["review"] == stats(0, 0.0, None, None, None, None)
    assert series(contributor["throughput"]["annotationSubmissions"]) == [(DAYS[0], 2)]
    assert [s["count"] for s in contributor["throughput"]["tasksByStep"]] == [0, 0]
    assert contributor["throughput"]["assignmentsByWorker"] == []
    assert (contributor["efficiency"]["issuesOpened"], contributor["efficiency"]["issuesClosed"]) == (0, 0)

    labeler = await analytics(api, world, c["campaign"], who=world.ids["labeler"])
    # labeler1: E1 1800 (01-07), E6 900 (01-10), resolved I1; holds c at Annotate.
    assert series(labeler["throughput"]["annotationSubmissions"]) == list(zip(DAYS, [1, 0, 0, 1], strict=True))
    assert labeler["efficiency"]["annotation"] == stats(2, 2700.0, 900.0, 1800.0, 900.0, 1800.0)
    assert (labeler["efficiency"]["issuesOpened"], labeler["efficiency"]["issuesClosed"]) == (0, 1)
    assert [(w["user"]["username"], w["count"]) for w in labeler["throughput"]["assignmentsByWorker"]] == [("labeler1", 1)]

    idle = await analytics(api, world, c["campaign"], who=world.ids["member"])
    # member1 did nothing: zeros, and no bucket at all without a range.
    assert idle["efficiency"]["taskDuration"] == stats(0, 0.0, None, None, None, None)
    assert idle["throughput"]["annotationSubmissions"] == [] and idle["efficiency"]["annotationTime"] == []
    assert idle["throughput"]["issuesByKind"] == [{"kind": "ZONE", "count": 0}, {"kind": "IMAGE", "count": 0}]
    window = {"from": iso(at(9, 0)), "to": iso(at(10, 0))}
    idle = await analytics(api, world, c["campaign"], who=world.ids["member"], range=window)
    assert series(idle["throughput"]["annotationSubmissions"]) == [(DAYS[2], 0)]  # the range's one empty day


async def test_bad_arguments_are_refused(api, world, fake_clock):
    c = await run_campaign(api, world, fake_clock)
    cases = [
        {"range": {"from": iso(at(8, 0)), "to": iso(at(8, 0))}},  # empty range
        {"range": {"from": "2000-01-01T00:00:00Z", "to": "2030-01-01T00:00:00Z"}, "g": "HOUR"},  # too many buckets
        {"step": encode_id("Step", 987_654)},  # not a step of this campaign
    ]
    for variables in cases:
        body = await api.post(ANALYTICS, {"c": c["campaign"], **variables}, world.manager)
        assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST", (variables, body)
    body = await api.post(QUALITY, {"v": world.ids["version"], "bins": 0}, world.manager)
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def shape(label, kind, *points):
    return {"label": label, "kind": kind, "points": [{"x": x, "y": y} for x, y in points]}


async def test_quality_of_a_version(api, world):
    assets = [
        # 100 × 100: a rectangle 10 × 20 = 200 and a triangle (0,0) (40,0) (0,30): |40 × 30| / 2 = 600
        {"filename": "q1.jpg", "width": 100, "height": 100,
         "shapes": [shape("car", "RECTANGLE", (10, 10), (20, 30)), shape("person", "POLYGON", (0, 0), (40, 0), (0, 30))]},
        # 200 × 100: a rectangle 100 × 50 = 5000 and a point (no area)
        {"filename": "q2.jpg", "width": 200, "height": 100,
         "shapes": [shape("car", "RECTANGLE", (0, 0), (100, 50)), shape("person", "POINT", (5, 5))]},
        {"filename": "q3.jpg", "width": 50, "height": 40},  # not annotated
        {"filename": "q4.jpg", "width": 10, "height": 10, "shapes": [shape("car", "POINT", (1, 1))]},
    ]
    payload = (await api.data("mutation($i: AddAssetsInput!) { addAssets(input: $i) { errors { code } } }",
                              {"i": {"datasetVersionId": world.ids["version"], "assets": assets}}, world.manager))
    assert payload["addAssets"]["errors"] == []
    for token in (world.manager, world.contributor, world.admin):
        q = (await api.data(QUALITY, {"v": world.ids["version"], "bins": 2}, token))["datasetVersion"]["quality"]
        assert q["shapesByLabel"] == [{"label": {"name": "car"}, "count": 3}, {"label": {"name": "person"}, "count": 2}]
        # Shapes per annotated asset: 2, 2, 1 → range [1, 2] in 2 bins of 0.5: [1, 1.5) 1, [1.5, 2] 2.
        assert q["assetsByShapeCount"] == [{"lower": 1.0, "upper": 1.5, "count": 1},
                                           {"lower": 1.5, "upper": 2.0, "count": 2}]
        # Areas 200, 600, 5000 → [200, 5000] in bins of 2400: [200, 2600) 2, [2600, 5000] 1.
        assert q["shapeAreas"] == [{"lower": 200.0, "upper": 2600.0, "count": 2},
                                   {"lower": 2600.0, "upper": 5000.0, "count": 1}]
        # Asset areas 10000, 20000, 2000, 100 → [100, 20000] in bins of 9950: 3 then 1.
        assert q["assetAreas"] == [{"lower": 100.0, "upper": 10050.0, "count": 3},
                                   {"lower": 10050.0, "upper": 20000.0, "count": 1}]
    q = (await api.data(QUALITY, {"v": world.ids["version"], "bins": 3}, world.manager))["datasetVersion"]["quality"]
    # [200, 5000] in bins of 1600: [200, 1800) 2, [1800, 3400) none (an empty bin is listed), [3400, 5000] 1.
    assert [(b["lower"], b["upper"], b["count"]) for b in q["shapeAreas"]] == [
        (200.0, 1800.0, 2), (1800.0, 3400.0, 0), (3400.0, 5000.0, 1)]
    body = await api.post(QUALITY, {"v": world.ids["version"]}, world.labeler)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_areas_are_counted_at_three_significant_digits(api, world):
    assets = [
        # 1920 × 1080 = 2,073,600 counts as 2,070,000; boxes 123 × 101 = 12,423 (12,400) and 10 × 12.5 = 125
        {"filename": "big.jpg", "width": 1920, "height": 1080,
         "shapes": [shape("car", "RECTANGLE", (0, 0), (123, 101)), shape("car", "RECTANGLE", (0, 0), (10, 12.5))]},
        {"filename": "odd.jpg", "width": 1921, "height": 1079},  # 2,072,759: the same count as the first
    ]
    payload = (await api.data("mutation($i: AddAssetsInput!) { addAssets(input: $i) { errors { code } } }",
                              {"i": {"datasetVersionId": world.ids["version"], "assets": assets}}, world.manager))
    assert payload["addAssets"]["errors"] == []
    q = (await api.data(QUALITY, {"v": world.ids["version"], "bins": 2}, world.manager))["datasetVersion"]["quality"]
    assert q["shapeAreas"] == [{"lower": 125.0, "upper": 6262.5, "count": 1}, {"lower": 6262.5, "upper": 12400.0, "count": 1}]
    assert q["assetAreas"] == [{"lower": 2070000.0, "upper": 2070000.0, "count": 2}]


async def test_analytics_never_load_rows_into_python(api, world, fake_clock, count_queries, monkeypatch):
    """Ten more completions (and twenty more tasks) cost no statement and no row more: the counting
    happens in SQL. A version that read events or tasks into Python would fetch ten rows more at least."""
    fetched: list[int] = []
    for name in ("fetch", "fetch_scan"):
        original = getattr(sql, name)

        async def counting(statement, params=(), original=original):
            rows = await original(statement, params)
            fetched.append(len(rows))
            return rows

        monkeypatch.setattr(sql, name, counting)
    c = await run_campaign(api, world, fake_clock)
    await add_assets(api, world, [f"more{i:02}.jpg" for i in range(20)])  # 10 for each annotator
    costs = []
    for round_ in range(2):
        fetched.clear()
        with count_queries() as counter:
            result = await analytics(api, world, c["campaign"])
        costs.append((len(counter.statements), sum(fetched)))
        if round_ == 0:
            assert result["throughput"]["tasksByStep"][0]["count"] == 21
            tasks = await all_tasks(api, world, c["campaign"])
            fake_clock["now"] = at(7, 13)
            for task in tasks:
                if task["asset"]["filename"].startswith("more") and task["assignee"]["username"] == "labeler1":
                    await act(api, SUBMIT, {"taskId": task["id"], "activeSeconds": 60}, world.labeler)
    # The same groups (kind × step × day, step × worker) before and after; the percentile rows
    # may stand for one rank or two, hence the slack of 3.
    assert result["efficiency"]["annotation"]["count"] == 14
    assert costs[0][0] == costs[1][0], costs
    assert abs(costs[0][1] - costs[1][1]) <= 3, costs


async def _plan(statement: str, params: list) -> str:
    """The query plan as text: SQLite's EXPLAIN QUERY PLAN, PostgreSQL's EXPLAIN with sequential
    scans discouraged (on a table this small the planner would scan it anyway; what matters is
    that an index can serve the statement)."""
    async with sql.transaction():
        if sql.is_postgres(sql.current_connection()):
            await sql.execute("SET LOCAL enable_seqscan = off")
            return "\n".join(row[0] for row in await sql.fetch(f"EXPLAIN {statement}", params))
        return "\n".join(str(row[-1]) for row in await sql.fetch(f"EXPLAIN QUERY PLAN {statement}", params))


async def _index_named(table: str, column: str) -> str:
    if sql.is_postgres(sql.current_connection()):
        rows = await sql.fetch("SELECT indexname FROM pg_indexes WHERE tablename = ? AND indexdef LIKE ?",
                               [table, f"%{column}%"])
    else:
        rows = await sql.fetch("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql LIKE ?",
                               [table, f"%{column}%"])
    assert len(rows) == 1, rows
    return rows[0][0]


@pytest.mark.parametrize("narrowed", [False, True])
async def test_the_analytics_statements_use_their_indexes(api, world, fake_clock, narrowed):
    from stepwise.models.queries import analytics as q

    c = await run_campaign(api, world, fake_clock)
    from stepwise.schema.ids import parse_id

    campaign_id, step_id = parse_id(c["campaign"])[1], parse_id(c["steps"]["Annotate"])[1]
    query = q.AnalyticsFilter(campaign_id, at(7, 0), at(11, 0), step_id, parse_id(world.ids["labeler"])[1], "HOUR") \
        if narrowed else q.AnalyticsFilter(campaign_id)
    events_index = await _index_named("task_event", "duration_seconds")
    # Issues: the (campaign_id, created_at) index for a range, else either campaign_id index will do.
    issues_index = await _index_named("issue", "created_at") if narrowed else "issue"
    for statement, index, table in (
        (q.completions_statement(query), events_index, "task_event"),
        (q.percentiles_statement(query, [step_id]), events_index, "task_event"),
        (q.issues_raised_statement(query), issues_index, "issue"),
    ):
        plan = await _plan(*statement)
        if sql.is_postgres(sql.current_connection()):
            # On a table this small the planner picks any of the campaign_id indexes; each avoids the scan.
            assert f"on idx_{table}_campaig" in plan or f"using idx_{table}_campaig" in plan, plan
        else:
            assert index in plan and "INDEX" in plan, plan
        assert f"Seq Scan on {table}" not in plan, plan  # PostgreSQL's full scan
        assert not any(line.startswith("SCAN") and "INDEX" not in line for line in plan.splitlines()
                       if table in line or " e" in line), plan  # SQLite's full scan
        if not sql.is_postgres(sql.current_connection()) and table == "task_event":
            assert "COVERING INDEX" in plan, plan  # the events are read from the index alone


async def test_percentiles_are_sorted_only_when_selected(api, world, fake_clock, count_queries):
    c = await run_campaign(api, world, fake_clock)
    query = """query($c: ID!) { campaign(id: $c) { analytics { efficiency { taskDuration { count %s }
      annotation { count %s } review { count %s } } } } }"""
    counts = []
    for extra in ("", "p50Seconds p95Seconds"):
        with count_queries() as counter:
            data = await api.data(query % (extra, extra, extra), {"c": c["campaign"]}, world.manager)
        counts.append(len([s for s in counter.statements if "ROW_NUMBER()" in s]))
    assert data["campaign"]["analytics"]["efficiency"]["review"] == {"count": 2, "p50Seconds": 300.0, "p95Seconds": 600.0}
    assert counts == [0, 1]  # one ranking statement serves the three groups
