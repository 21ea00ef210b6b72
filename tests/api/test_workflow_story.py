"""The seed story over HTTP: configure, launch, annotate, review, rework, skip, finish."""

from campaign_helpers import (
    BOX, ISSUE, LAUNCH, PROGRESS, REWORK, SKIP, START, SUBMIT, TASK, act, add_assets, all_tasks, campaign_with_steps,
)

HISTORY = """query($t: ID!) { task(id: $t) { status history { step { name } state assignee { username } submittedAt
  annotation { shapes { kind } } } events { kind step { name } actor { username } assignee { username } } } }"""
MY_TASKS = "query($o: ID!) { myTasks(organizationId: $o) { campaign { id } datasetVersion { name } tasks { id asset { filename } } } }"


async def test_the_whole_story(api, world):
    await add_assets(api, world, ["a.jpg", "b.jpg", "c.jpg", "d.jpg"])
    campaign, _ = await campaign_with_steps(
        api, world, [("Annotate", "ANNOTATION", ["labeler1", "contributor1"]), ("Review", "REVIEW", ["manager1"])]
    )
    launched = await api.data(LAUNCH, {"c": campaign}, world.manager)
    assert launched["launchCampaign"]["campaign"]["status"] == "ONGOING"
    tasks = await all_tasks(api, world, campaign)
    assert [(t["asset"]["filename"], t["assignee"]["username"], t["status"]) for t in tasks] == [
        ("a.jpg", "labeler1", "IN_PROGRESS"), ("b.jpg", "contributor1", "IN_PROGRESS"),
        ("c.jpg", "labeler1", "IN_PROGRESS"), ("d.jpg", "contributor1", "IN_PROGRESS")]

    mine = await api.data(MY_TASKS, {"o": world.ids["org"]}, world.labeler)
    assert [[t["asset"]["filename"] for t in g["tasks"]] for g in mine["myTasks"]] == [["a.jpg", "c.jpg"]]
    a, b, c, d = (t["id"] for t in tasks)

    # Annotate: the labeler starts and submits with shapes; it moves to Review, to the manager.
    assert (await act(api, START, {"taskId": a}, world.labeler))["errors"] == []
    submitted = await act(api, SUBMIT, {"taskId": a, "shapes": [BOX]}, world.labeler)
    assert submitted["task"]["step"] == {"name": "Review"} and submitted["task"]["assignee"] == {"username": "manager1"}
    assert (await act(api, SUBMIT, {"taskId": c}, world.labeler))["errors"] == []
    # The labeler no longer sees a task that left them.
    gone = await api.post(TASK, {"t": a}, world.labeler)
    assert gone["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    # Review: send `a` back with an issue; it returns to the labeler who submitted it, TO_REWORK.
    rework = await act(api, REWORK, {"taskId": a, "issue": ISSUE}, world.manager)
    assert rework["errors"] == []
    assert rework["task"]["status"] == "TO_REWORK" and rework["task"]["assignee"] == {"username": "labeler1"}
    assert rework["task"]["annotation"] == {"shapes": [{"kind": "RECTANGLE"}]}
    # The last submit is blocked while the issue is open.
    again = await act(api, SUBMIT, {"taskId": a}, world.labeler)
    assert again["task"]["step"] == {"name": "Review"}
    blocked = await act(api, SUBMIT, {"taskId": a}, world.manager)
    assert blocked["errors"] == [{"code": "OPEN_ISSUES", "field": None, "message": blocked["errors"][0]["message"]}]

    # Skip `b` with a new issue; finish `c`.
    skipped = await act(api, SKIP, {"taskId": b, "issue": {"kind": "ZONE", "zone": {"x": 1, "y": 1, "width": 5, "height": 5},
                                                           "body": "Blurry"}}, world.contributor)
    assert skipped["task"]["status"] == "SKIPPED" and skipped["task"]["assignee"] is None
    done = await act(api, SUBMIT, {"taskId": c}, world.manager)
    assert done["task"]["status"] == "DONE" and done["task"]["step"] is None

    history = (await api.data(HISTORY, {"t": a}, world.manager))["task"]
    assert [(h["step"]["name"], h["state"], h["assignee"] and h["assignee"]["username"]) for h in history["history"]] == [
        ("Annotate", "DONE", "labeler1"), ("Review", "CURRENT", "manager1")]
    assert history["history"][0]["annotation"] == {"shapes": [{"kind": "RECTANGLE"}]}
    assert [e["kind"] for e in history["events"]] == ["CREATED", "STARTED", "SUBMITTED", "SENT_TO_REWORK", "SUBMITTED"]

    progress = (await api.data(PROGRESS, {"c": campaign}, world.manager))["campaign"]["progress"]
    assert progress["totalTasks"] == 4 and progress["done"] == 1 and progress["skipped"] == 1
    assert progress["byStep"] == [{"step": {"name": "Annotate"}, "count": 1}, {"step": {"name": "Review"}, "count": 1}]

    # Finish: d goes through both steps; a's issue... a must be skipped or its issue resolved: skip it.
    assert (await act(api, SKIP, {"taskId": a}, world.manager))["task"]["status"] == "SKIPPED"
    await act(api, SUBMIT, {"taskId": d}, world.contributor)
    final = await act(api, SUBMIT, {"taskId": d}, world.manager)
    assert final["task"]["status"] == "DONE"
    state = (await api.data(PROGRESS, {"c": campaign}, world.manager))["campaign"]
    assert state["status"] == "COMPLETED" and state["completedAt"] and state["progress"]["percent"] == 100.0
