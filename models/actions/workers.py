"""Taking a worker off a dataset (removeDatasetWorker): one transaction, effective at once."""

from __future__ import annotations

from stepwise.models.actions.datasets import find_dataset
from stepwise.models.db import sql
from stepwise.models.db.datasets import Dataset
from stepwise.models.errors import DomainError, ErrorCode
from stepwise.models.workflow import ACTIVE, CampaignStatus
from stepwise.permissions.access import Access
from stepwise.permissions.operations import operation

REMOVE_WORKER = operation("Mutation.removeDatasetWorker")
_ACTIVE = [status.value for status in ACTIVE]
# The steps of the dataset's campaigns where the user is an assignee (alias `sa`, joined to `s`).
_THEIR_STEPS = (" FROM step_assignee sa JOIN step s ON s.id = sa.step_id JOIN campaign c ON c.id = s.campaign_id"
                " WHERE c.dataset_id = ? AND sa.user_id = ?")


async def _lock_workflows(dataset_id: int) -> None:
    """PostgreSQL: lock the dataset's campaigns, then their steps (the order launch and step edits
    take them; a transition locks the step it attributes at), so that no launch, step edit or
    attribution to this user commits between the checks below and the removal. SQLite has one
    write transaction at a time already. NO KEY UPDATE: it excludes every other writer of these
    rows but not the key-share locks that inserting a row referring to them takes (a transition's
    task event): a transition holding its step's lock would otherwise deadlock with us."""
    if sql.is_postgres(sql.current_connection()):
        await sql.fetch("SELECT id FROM campaign WHERE dataset_id = ? ORDER BY id FOR NO KEY UPDATE", [dataset_id])
        await sql.fetch("SELECT s.id FROM step s JOIN campaign c ON c.id = s.campaign_id WHERE c.dataset_id = ?"
                        " ORDER BY s.id FOR NO KEY UPDATE OF s", [dataset_id])


async def _check_removable(dataset_id: int, user_id: int) -> None:
    """NOT_A_WORKER, INVALID_STATE (active tasks left) or NO_ASSIGNEES (last assignee of a step of
    a launched campaign), in that order; each one indexed read."""
    # PostgreSQL: the worker row locked first; a reassign to them share-locks it, so its task is
    # either committed before the active-task check below or refused (NOT_A_WORKER) after us.
    lock = " FOR UPDATE" if sql.is_postgres(sql.current_connection()) else ""
    if not await sql.fetch(f"SELECT 1 FROM dataset_worker WHERE dataset_id = ? AND user_id = ?{lock}",
                           [dataset_id, user_id]):
        raise DomainError(ErrorCode.NOT_A_WORKER, "This user is not a worker of the dataset.", "input.userId")
    active = await sql.fetch(
        f"SELECT 1 FROM task t JOIN campaign c ON c.id = t.campaign_id WHERE t.assignee_id = ?"
        f" AND t.status IN ({', '.join('?' * len(_ACTIVE))}) AND c.dataset_id = ? LIMIT 1",
        [user_id, *_ACTIVE, dataset_id])
    if active:
        raise DomainError(ErrorCode.INVALID_STATE, "This worker still holds active tasks: reassign them first.",
                          "input.userId")
    sole = await sql.fetch(
        f"SELECT s.name{_THEIR_STEPS} AND c.status <> ?"
        " AND NOT EXISTS (SELECT 1 FROM step_assignee o WHERE o.step_id = sa.step_id AND o.user_id <> sa.user_id)"
        " LIMIT 1", [dataset_id, user_id, CampaignStatus.DRAFT.value])
    if sole:
        raise DomainError(ErrorCode.NO_ASSIGNEES, f"This worker is the last assignee of step {sole[0][0]!r}: "
                          "add another assignee first.", "input.userId")


def _removal_writes(dataset_id: int, user_id: int) -> list[tuple[str, list]]:
    """Off every step of the dataset's campaigns, then off the dataset. A step whose round-robin
    position lies after the user's place in its list moves back by one, so the turn stays with
    the same next assignee."""
    return [
        ("UPDATE step SET round_robin_next = round_robin_next - 1 WHERE id IN (SELECT sa.step_id"
         f"{_THEIR_STEPS} AND (SELECT COUNT(*) FROM step_assignee o WHERE o.step_id = sa.step_id"
         " AND o.position < sa.position) < s.round_robin_next)", [dataset_id, user_id]),
        (f"DELETE FROM step_assignee WHERE id IN (SELECT sa.id{_THEIR_STEPS})", [dataset_id, user_id]),
        # Their holds go too: a task returning to a step (a rework included) must not go back to a
        # non-worker; without a hold, the step's policy picks among its assignees.
        ("DELETE FROM task_step_holder WHERE user_id = ? AND step_id IN (SELECT s.id FROM step s"
         " JOIN campaign c ON c.id = s.campaign_id WHERE c.dataset_id = ?)", [user_id, dataset_id]),
        ("DELETE FROM dataset_worker WHERE dataset_id = ? AND user_id = ?", [dataset_id, user_id]),
        # Their notifications about these campaigns go too: they may no longer see them.
        ("DELETE FROM notification WHERE user_id = ? AND campaign_id IN (SELECT id FROM campaign WHERE dataset_id = ?)",
         [user_id, dataset_id]),
    ]


async def remove_dataset_worker(access: Access, dataset_id: int, user_id: int) -> Dataset:
    """Take `user_id` off the dataset and off every step of its campaigns (RULES.md, Transitions).
    Queries, mutations and subscriptions read roles afresh, so it takes effect at once."""
    dataset = await find_dataset(access, dataset_id, REMOVE_WORKER)
    # Bulk: forgetting the worker's holds grows with the work they did (an index range, on SQLite
    # on the bulk connection's thread).
    async with sql.bulk_transaction():
        await _lock_workflows(dataset.id)
        await _check_removable(dataset.id, user_id)
        await sql.execute_all(_removal_writes(dataset.id, user_id))
    access.forget()
    return dataset
