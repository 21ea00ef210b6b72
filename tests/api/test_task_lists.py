"""Campaign.tasks with filters and cursors, as the Tasks list of a manager uses it."""

from campaign_helpers import LAUNCH, SUBMIT, TASKS, act, add_assets, all_tasks, campaign_with_steps


async def launched(api, world, count=12):
    await add_assets(api, world, [f"{i:02d}.jpg" for i in range(count)])
    campaign, steps = await campaign_with_steps(
        api, world, [("Annotate", "ANNOTATION", ["labeler1", "contributor1"]), ("Review", "REVIEW", ["manager1"])])
    await api.data(LAUNCH, {"c": campaign}, world.manager)
    return campaign, steps


async def listed(api, world, campaign, task_filter, first=500, after=None):
    data = await api.data(TASKS, {"c": campaign, "f": task_filter, "first": first, "after": after}, world.manager)
    connection = data["campaign"]["tasks"]
    return connection, [edge["node"]["asset"]["filename"] for edge in connection["edges"]]


async def test_filters_combine_and_count(api, world):
    campaign, (annotate, review) = await launched(api, world)
    tasks = await all_tasks(api, world, campaign)
    contributor_tasks = [t for t in tasks if t["assignee"]["username"] == "contributor1"]
    for task in contributor_tasks[:3]:
        assert (await act(api, SUBMIT, {"taskId": task["id"]}, world.contributor))["errors"] == []

    at_review, names = await listed(api, world, campaign, {"stepId": review})
    assert at_review["totalCount"] == 3 and names == sorted(t["asset"]["filename"] for t in contributor_tasks[:3])
    mine, names = await listed(api, world, campaign, {"assigneeId": world.ids["contributor"]})
    assert mine["totalCount"] == len(contributor_tasks) - 3
    both, _ = await listed(api, world, campaign, {"assigneeId": world.ids["labeler"], "stepId": annotate})
    assert both["totalCount"] == 6
    active, _ = await listed(api, world, campaign, {"status": ["IN_PROGRESS", "TO_REWORK"]})
    none_done, _ = await listed(api, world, campaign, {"status": ["DONE", "SKIPPED"]})
    assert active["totalCount"] == 12 and none_done["totalCount"] == 0 and none_done["edges"] == []


async def test_filtered_pages_walk_every_match_once(api, world):
    campaign, (annotate, _) = await launched(api, world, count=25)
    seen, after = [], None
    while True:
        connection, names = await listed(api, world, campaign, {"stepId": annotate, "assigneeId": world.ids["labeler"]}, 4, after)
        seen += names
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    everything = await all_tasks(api, world, campaign)
    expected = [t["asset"]["filename"] for t in everything if t["assignee"]["username"] == "labeler1"]
    assert seen == expected and len(seen) == 13


async def test_a_filter_id_of_the_wrong_type_is_not_found(api, world):
    campaign, _ = await launched(api, world, count=2)
    body = await api.post(TASKS, {"c": campaign, "f": {"stepId": world.ids["dataset"]}}, world.manager)
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
