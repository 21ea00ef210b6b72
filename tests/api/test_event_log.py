"""The campaign event log: one ordered log per campaign, written with each change, and a
subscriber's position in it (subscriptions/stream.py) on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from campaign_helpers import LAUNCH, START, act, add_assets, all_tasks, campaign_with_steps

from stepwise.models.queries.event_log import log_page, log_position
from stepwise.schema.event_cursors import campaign_cursor, organization_cursor
from stepwise.schema.ids import decode_id
from stepwise.subscriptions.bus import GAP
from stepwise.subscriptions.stream import LogPosition

ONE_STEP = [("Annotate", "ANNOTATION", ["contributor1", "labeler1"])]


async def launched(api, world, count: int):
    await add_assets(api, world, [f"{i:03}.jpg" for i in range(count)])
    campaign, _ = await campaign_with_steps(api, world, ONE_STEP)
    assert (await api.data(LAUNCH, {"c": campaign}, world.manager))["launchCampaign"]["errors"] == []
    return campaign, decode_id(campaign, "Campaign"), decode_id(world.ids["org"], "Organization")


async def test_every_change_is_logged_in_commit_order_and_a_reader_never_passes_a_later_commit(api, world):
    campaign, campaign_pk, org_pk = await launched(api, world, 40)
    tasks = await all_tasks(api, world, campaign)
    assert await log_position(campaign_pk) == 40  # one CREATED per task
    tokens = {"contributor1": world.contributor, "labeler1": world.labeler}
    done = asyncio.Event()
    seen: list[int] = []

    async def reader() -> None:
        """Polls the log by keyset as a catching-up subscriber does: each read must continue
        exactly where the last one ended (a later seq visible before an earlier one has
        committed would be a hole here, and the reader would pass it for good)."""
        while True:
            finished = done.is_set()
            page = await log_page(org_pk, campaign_pk, seen[-1] if seen else 40, 1000)
            seqs = [m["seq"] for m in page]
            assert seqs == list(range((seen[-1] if seen else 40) + 1, (seen[-1] if seen else 40) + 1 + len(seqs)))
            seen.extend(seqs)
            if finished:
                return
            await asyncio.sleep(0)

    async def writers() -> None:
        # Forty transactions at once (each its own connection on PostgreSQL).
        results = await asyncio.gather(*(act(api, START, {"taskId": t["id"]}, tokens[t["assignee"]["username"]])
                                         for t in tasks))
        assert all(r["errors"] == [] for r in results)
        done.set()

    await asyncio.gather(reader(), writers())
    assert seen == list(range(41, 81))
    kinds = {m["kind"] for m in await log_page(org_pk, campaign_pk, 40, 1000)}
    assert kinds == {"STARTED"}


async def test_a_subscriber_in_step_reads_nothing_and_one_behind_catches_up_from_the_log(api, world, count_queries):
    campaign, campaign_pk, org_pk = await launched(api, world, 4)
    tasks = await all_tasks(api, world, campaign)
    tokens = {"contributor1": world.contributor, "labeler1": world.labeler}
    for task in tasks[:3]:
        assert (await act(api, START, {"taskId": task["id"]}, tokens[task["assignee"]["username"]]))["errors"] == []
    log = await log_page(org_pk, campaign_pk, 0)
    assert [m["seq"] for m in log] == list(range(1, 8))  # 4 CREATED, 3 STARTED
    inbox: asyncio.Queue = asyncio.Queue()

    async def bus():
        while True:
            yield await inbox.get()

    position = LogPosition(org_pk, {campaign_pk: 4}, behind=False)  # as if subscribed after the launch
    batches = position.follow(bus())

    async def next_batch(*messages) -> tuple[list[int], int]:
        for message in messages:
            inbox.put_nowait(message)
        with count_queries() as counter:
            batch = await asyncio.wait_for(anext(batches), 5)
        for message in batch:
            position.delivered(message)  # as the subscription does with each event
        return [m["seq"] for m in batch], len(counter.statements)

    # In step: the bus message itself, no query.
    assert await next_batch(log[4]) == ([5], 0)
    # Seq 7 before 6 (a lost message): the log from the position, one keyset read.
    assert await next_batch(log[6]) == ([6, 7], 1)
    # Stale messages (already read from the log), then a GAP: nothing new in the log.
    inbox.put_nowait(log[5])
    inbox.put_nowait(log[6])
    inbox.put_nowait(GAP)
    assert (await act(api, START, {"taskId": tasks[3]["id"]}, tokens[tasks[3]["assignee"]["username"]]))["errors"] == []
    # After the GAP the subscriber reads the log: the new event is there (seq 8), once.
    assert await next_batch() == ([8], 1)
    [eighth] = await log_page(org_pk, campaign_pk, 7)
    inbox.put_nowait(eighth)  # its bus message arrives late: already delivered, skipped
    # New assets: their CREATED come as a range, read from the log.
    await add_assets(api, world, ["new.jpg"])
    assert await next_batch({"type": "range", "campaign_id": campaign_pk, "organization_id": org_pk,
                             "first_seq": 9, "last_seq": 9}) == ([9], 1)
    assert position.positions == {campaign_pk: 9}


async def test_a_snapshot_reads_its_event_cursor_before_its_data(api, world, count_queries):
    campaign, campaign_pk, org_pk = await launched(api, world, 3)
    query = ("query($c: ID!, $o: ID!) { campaign(id: $c) { tasks(first: 5) { totalCount edges { node { status } } }"
             " eventCursor } organization(id: $o) { name eventCursor } }")
    with count_queries() as counter:
        data = await api.data(query, {"c": campaign, "o": world.ids["org"]}, world.manager)
    position_reads = [i for i, s in enumerate(counter.statements) if "MAX(seq)" in s]
    task_reads = [i for i, s in enumerate(counter.statements) if "FROM task" in s]
    assert len(position_reads) == 2 and position_reads[0] < min(task_reads), counter.statements
    tasks_position = data["campaign"]["eventCursor"]
    assert tasks_position == campaign_cursor(campaign_pk, 3)
    assert data["organization"]["eventCursor"] == organization_cursor(org_pk, {campaign_pk: 3})


async def test_a_launch_logs_created_for_every_task_then_done_for_those_done_at_once(api, world):
    await add_assets(api, world, ["a.jpg", "b.jpg", "c.jpg"], annotated=["b.jpg"])
    campaign, _ = await campaign_with_steps(api, world, ONE_STEP, preexistingAnnotationStrategy="DONE")
    assert (await api.data(LAUNCH, {"c": campaign}, world.manager))["launchCampaign"]["errors"] == []
    campaign_pk, org_pk = decode_id(campaign, "Campaign"), decode_id(world.ids["org"], "Organization")
    by_id = {decode_id(t["id"], "Task"): t["asset"]["filename"] for t in await all_tasks(api, world, campaign)}
    log = await log_page(org_pk, campaign_pk, 0)
    # In task order (the task done at once was inserted first), then the DONE.
    assert [(m["seq"], m["kind"], by_id[m["task_id"]]) for m in log] == [
        (1, "CREATED", "b.jpg"), (2, "CREATED", "a.jpg"), (3, "CREATED", "c.jpg"), (4, "DONE", "b.jpg")]
    # New assets continue the same log.
    await add_assets(api, world, ["d.jpg"])
    [created] = await log_page(org_pk, campaign_pk, 4)
    assert (created["seq"], created["kind"], created["actor_id"]) == (5, "CREATED", None)


async def test_the_organization_cursor_and_a_gap_cover_only_campaigns_where_the_viewer_can_have_tasks(api, world, count_queries):
    """A LABELER's Organization.eventCursor names no campaign of a dataset they do not work on
    (neither its id nor its size), and after a GAP their myTaskUpdates position reads only the
    logs of their own campaigns."""
    from stepwise.models.queries.event_log import worker_positions

    campaign, campaign_pk, org_pk = await launched(api, world, 3)
    other = await api.data("mutation($i: CreateDatasetInput!) { createDataset(input: $i) { dataset { id } } }",
                           {"i": {"organizationId": world.ids["org"], "name": "Elsewhere"}}, world.manager)
    other_dataset = other["createDataset"]["dataset"]["id"]
    version = await api.data(
        "mutation($i: CreateDatasetVersionInput!) { createDatasetVersion(input: $i) { datasetVersion { id } } }",
        {"i": {"datasetId": other_dataset, "name": "v1", "labels": ["car"]}}, world.manager)
    hidden_world = type(world)(**{**vars(world), "ids": {**world.ids, "dataset": other_dataset,
                                                         "version": version["createDatasetVersion"]["datasetVersion"]["id"]}})
    await add_assets(api, hidden_world, ["x.jpg", "y.jpg"])
    hidden, _ = await campaign_with_steps(api, hidden_world, [("Annotate", "ANNOTATION", ["manager1"])])
    assert (await api.data(LAUNCH, {"c": hidden}, world.manager))["launchCampaign"]["errors"] == []
    hidden_pk = decode_id(hidden, "Campaign")
    query = "query($o: ID!) { organization(id: $o) { eventCursor } }"
    labeler_cursor = (await api.data(query, {"o": world.ids["org"]}, world.labeler))["organization"]["eventCursor"]
    assert labeler_cursor == organization_cursor(org_pk, {campaign_pk: 3})
    manager_cursor = (await api.data(query, {"o": world.ids["org"]}, world.manager))["organization"]["eventCursor"]
    assert manager_cursor == organization_cursor(org_pk, {campaign_pk: 3, hidden_pk: 2})

    labeler_pk = decode_id(world.ids["labeler"], "User")
    position = LogPosition(org_pk, await worker_positions(org_pk, labeler_pk), behind=False,
                           known_campaigns=lambda: worker_positions(org_pk, labeler_pk))

    async def gap():
        yield GAP
        await asyncio.Event().wait()

    tasks = await all_tasks(api, world, campaign)
    tokens = {"contributor1": world.contributor, "labeler1": world.labeler}
    assert (await act(api, START, {"taskId": tasks[0]["id"]}, tokens[tasks[0]["assignee"]["username"]]))["errors"] == []
    batches = position.follow(gap())
    with count_queries() as counter:
        batch = await asyncio.wait_for(anext(batches), 5)
    await batches.aclose()
    assert [(m["campaign_id"], m["kind"]) for m in batch] == [(campaign_pk, "STARTED")]
    # Their campaigns' positions, then one page of their one log: the hidden campaign's is not read.
    assert len(counter.statements) == 2, counter.statements
