"""Launching a campaign: one task per asset of the version, attributed, in one transaction.

Set-based: tasks whose attribution is a plain rotation through a step's assignees (ROUND_ROBIN,
or LEAST_LOADED while loads are even) go in with one INSERT ... SELECT per entry step, the
rotation computed by ROW_NUMBER(); otherwise the pure `attribute_many` decides in memory and
one batched INSERT writes them. Annotations and CREATED events (models/actions/task_writes.py)
are written set-based too; the progress counts (task_count) are tallied while attributing, since
every new task's key (status, step, holder) is known then, and written as a few upserted rows.
"""

from __future__ import annotations

from collections import Counter

from stepwise.models import clock
from stepwise.models.actions.campaigns import find_campaign, locked
from stepwise.models.actions.event_log import append_per_task
from stepwise.models.actions.rollups import task_count_key, task_count_write
from stepwise.models.actions.task_writes import EventPerTask, task_event_writes
from stepwise.models.db import sql
from stepwise.models.db.campaigns import Campaign
from stepwise.models.events import TasksCreated
from stepwise.models.queries.workflow import WorkflowStep, load_workflow, save_round_robin
from stepwise.models.workflow import (
    AttributionPolicy,
    CampaignStatus,
    EventKind,
    PreexistingStrategy,
    TaskStatus,
    attribute_many,
    check_launchable,
    entry_for,
)
from stepwise.permissions.access import Access
from stepwise.permissions.operations import operation

LAUNCH_CAMPAIGN = operation("Mutation.launchCampaign")
TaskCounts = dict[tuple, list[int]]  # task_count key -> [tasks, submits] to add (rollups.task_count_write)

COLUMNS = "campaign_id, asset_id, status, step_id, assignee_id, version, is_initial, step_entered_at, submit_count, created_at, updated_at"
INSERT_TASK = f"INSERT INTO task ({COLUMNS}) VALUES (?, ?, ?, ?, ?, 1, ?, ?, 0, ?, ?)"
# {group}: which of the version's assets (with or without a pre-existing annotation); {holders}:
# the CASE's branches. One pass over the asset index, already in id order: a join to step_assignee
# made SQLite materialize the assets and sort the 100,000 rows again (docs/benchmarks.md, issue 12).
ROTATION = (
    f"INSERT INTO task ({COLUMNS}) SELECT ?, id, 'IN_PROGRESS', ?,"
    " CASE (ROW_NUMBER() OVER (ORDER BY id) - 1 + ?) % ? {holders} END, 1, ?, ?, 0, ?, ?"
    " FROM asset WHERE version_id = ? AND {group} ORDER BY id"
)
DONE_AT_ONCE = (
    f"INSERT INTO task ({COLUMNS}) SELECT ?, a.id, 'DONE', NULL, NULL, 1, ?, NULL, 0, ?, ?"
    " FROM asset a WHERE a.version_id = ? AND {group} ORDER BY a.id"
)
GROUPS = {False: "annotation IS NULL", True: "annotation IS NOT NULL"}
COPY_ANNOTATIONS = (
    "UPDATE task SET annotation = (SELECT a.annotation FROM asset a WHERE a.id = task.asset_id),"
    " annotation_updated_at = ? WHERE campaign_id = ? AND id >= ? AND asset_id IN"
    " (SELECT id FROM asset WHERE version_id = ? AND annotation IS NOT NULL)"
)


def _rotation_start(policy: AttributionPolicy, step: WorkflowStep, loads: dict[int, int]) -> int | None:
    """Where a plain rotation through the assignees starts, or None when attribution is not one."""
    if policy is AttributionPolicy.ROUND_ROBIN:
        return step.round_robin_next % len(step.assignees)
    users = step.assignees
    if len(set(users)) == len(users) and len({loads.get(u, 0) for u in users}) == 1:
        return 0  # LEAST_LOADED with even loads: ties by list order, i.e. a rotation from the first
    return None


def _rotation(group: str, assignees: int) -> str:
    """The rotation's INSERT: the k-th asset (from 0, in id order) goes to assignee (start + k) % n."""
    holders = " ".join(f"WHEN {k} THEN CAST(? AS INTEGER)" for k in range(assignees))
    return ROTATION.format(group=group, holders=holders)


def _count_new(counts: TaskCounts, campaign: Campaign, step: WorkflowStep | None, holder: int | None,
               n: int) -> None:
    """Add `n` new tasks held by `holder` at `step` (None: DONE at once) to the counts to write."""
    status = TaskStatus.DONE if step is None else TaskStatus.IN_PROGRESS
    counts.setdefault(task_count_key(campaign.id, status, step and step.id, holder), [0, 0])[0] += n


def _count_rotation(campaign: Campaign, step: WorkflowStep, start: int, count: int, loads: dict[int, int],
                    counts: TaskCounts) -> None:
    n = len(step.assignees)
    for k in range(n):
        user = step.assignees[(start + k) % n]
        share = count // n + (1 if k < count % n else 0)
        loads[user] = loads.get(user, 0) + share
        _count_new(counts, campaign, step, user, share)


async def insert_attributed(campaign: Campaign, step: WorkflowStep | None, asset_ids: list[int],
                            loads: dict[int, int], counts: TaskCounts, now, *, initial: bool) -> None:
    """Tasks for these assets entering `step` (None: DONE at once), attributed in memory."""
    if step is None:
        rows = [(campaign.id, a, TaskStatus.DONE.value, None, None, initial, None, now, now) for a in asset_ids]
        _count_new(counts, campaign, None, None, len(rows))
    else:
        chosen, next_index = attribute_many(campaign.attribution_policy, step.assignees, len(asset_ids),
                                            round_robin_next=step.round_robin_next, loads=loads)
        await save_round_robin(step, next_index)
        status = TaskStatus.IN_PROGRESS.value
        rows = [(campaign.id, a, status, step.id, u, initial, now, now, now) for a, u in zip(asset_ids, chosen, strict=True)]
        for user, n in Counter(chosen).items():
            _count_new(counts, campaign, step, user, n)
    await sql.execute_many(INSERT_TASK, rows)


async def _insert_group(campaign: Campaign, step: WorkflowStep | None, group: str, count: int,
                        loads: dict[int, int], counts: TaskCounts, now) -> None:
    """Launch-time tasks for the `count` assets of the version matching `group` (an SQL condition)."""
    if step is None:
        await sql.execute(DONE_AT_ONCE.format(group=group), [campaign.id, True, now, now, campaign.version_id])
        _count_new(counts, campaign, None, None, count)
        return
    start = _rotation_start(campaign.attribution_policy, step, loads)
    if start is None:
        asset_ids = [row[0] for row in await sql.fetch(
            f"SELECT id FROM asset WHERE version_id = ? AND {group} ORDER BY id", [campaign.version_id])]
        await insert_attributed(campaign, step, asset_ids, loads, counts, now, initial=True)
        return
    await sql.execute(_rotation(group, len(step.assignees)),
                      [campaign.id, step.id, start, len(step.assignees), *step.assignees, True, now, now, now,
                       campaign.version_id])
    _count_rotation(campaign, step, start, count, loads, counts)
    if campaign.attribution_policy is AttributionPolicy.ROUND_ROBIN:
        await save_round_robin(step, (start + count) % len(step.assignees))


async def write_creation_events(campaign: Campaign, first_task_id: int, actor_id: int | None, now,
                                counts: TaskCounts, *, copy_annotations: bool,
                                any_done: bool = True) -> TasksCreated | None:
    """CREATED for every new task (and DONE for those done at once), their annotations, their
    progress counts (`counts`, tallied while inserting them: a GROUP BY over 100,000 new tasks
    cost ~10 % of a launch), and the same events in the campaign's log: the range to publish."""
    if copy_annotations:
        await sql.execute(COPY_ANNOTATIONS, [now, campaign.id, first_task_id, campaign.version_id])
    new_tasks = "campaign_id = ? AND id >= ?"
    counting = task_count_write(counts)
    if counting is not None:
        await sql.execute(*counting)
    await sql.execute(*task_event_writes(EventPerTask(EventKind.CREATED, actor_id, now, new_tasks,
                                                      [campaign.id, first_task_id])))
    if any_done:
        await sql.execute(*task_event_writes(EventPerTask(EventKind.DONE, actor_id, now, f"{new_tasks} AND status = ?",
                                                          [campaign.id, first_task_id, TaskStatus.DONE.value])))
    logged = await append_per_task(campaign.id, new_tasks, [campaign.id, first_task_id], actor_id, now, any_done)
    return None if logged is None else TasksCreated(campaign.organization_id, campaign.id, *logged)


async def _entry_groups(campaign: Campaign, step_types: list) -> tuple[dict[int | None, tuple[str, int]], bool]:
    """Which assets enter at which step: {step index, or None for DONE at once: (SQL condition
    on the asset, how many)}; and whether pre-existing annotations are copied into the tasks."""
    if campaign.preexisting_strategy is PreexistingStrategy.BACK_TO_ANNOTATION:
        # Annotated or not, every asset starts at the first step: count them off the index alone.
        total = (await sql.fetch("SELECT COUNT(*) FROM asset WHERE version_id = ?", [campaign.version_id]))[0][0]
        return ({0: ("1 = 1", total)} if total else {}), False
    counts = {bool(has): n for has, n in await sql.fetch(
        "SELECT CASE WHEN annotation IS NULL THEN 0 ELSE 1 END, COUNT(*) FROM asset WHERE version_id = ? GROUP BY 1",
        [campaign.version_id])}
    entries = {has: entry_for(campaign.preexisting_strategy, has, step_types) for has in counts}
    by_step: dict[int | None, list[bool]] = {}
    for has in counts:
        by_step.setdefault(entries[has].step_index, []).append(has)
    groups = {index: (GROUPS[kinds[0]] if len(kinds) == 1 else "1 = 1", sum(counts[h] for h in kinds))
              for index, kinds in by_step.items()}
    return groups, any(entries[has].copies_annotation for has in counts)


async def launch_campaign(access: Access, campaign_id: int) -> tuple[Campaign, TasksCreated | None]:
    """DRAFT → ONGOING with every asset's task, or COMPLETED when nothing is left to do; with the
    range of the tasks' events in the campaign's log, to publish after commit."""
    viewer = access.require_viewer()
    campaign = await find_campaign(access, campaign_id, LAUNCH_CAMPAIGN)
    async with sql.bulk_transaction():
        campaign = await locked(campaign)
        steps = await load_workflow(campaign.id)
        check_launchable(campaign.status, [len(s.assignees) for s in steps])
        groups, copies = await _entry_groups(campaign, [s.type for s in steps])
        now = clock.now()
        first_task_id = await sql.next_id("task")  # this campaign's new tasks are those from here
        loads: dict[int, int] = {}
        counts: TaskCounts = {}
        # Steps in workflow order (tasks DONE at once first): later steps see earlier loads.
        for index in sorted(groups, key=lambda i: -1 if i is None else i):
            step = None if index is None else steps[index]
            await _insert_group(campaign, step, *groups[index], loads, counts, now)
        active = sum(count for index, (_, count) in groups.items() if index is not None)
        created = await write_creation_events(campaign, first_task_id, viewer.id, now, counts, copy_annotations=copies,
                                              any_done=None in groups)
        campaign.launched_at = now
        campaign.status = CampaignStatus.ONGOING if active else CampaignStatus.COMPLETED
        campaign.completed_at = None if active else now
        await campaign.save(update_fields=["status", "launched_at", "completed_at"])
    return campaign, created
