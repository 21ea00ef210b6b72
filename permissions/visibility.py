"""What each role may see of a task, an asset and an issue: the one home of these row rules.

MANAGERs and CONTRIBUTORs (organization ADMINs act as MANAGER) see every task, asset and issue of
their datasets. A LABELER sees only their own active tasks (IN_PROGRESS or TO_REWORK, assigned to
them), the assets of those tasks, the issues on those assets and the tasks' history; of campaigns,
those of the datasets they work on (their steps and instructions, not their lists and figures).
Whatever is hidden answers exactly like something missing (NOT_FOUND).

Each rule comes in two forms built from the same tables (`policy.allows`, `roles.effective_dataset_role`):
- a predicate for a loaded row: the viewer's effective dataset role, their id and the row's fields;
- an SQL filter for lists: a WHERE fragment and its parameters (`?` placeholders, as models/db/sql.py
  writes for SQLite and PostgreSQL) that works the viewer's role out in the database.
Pure: no database import; models/ runs the SQL. tests/api/test_visibility_property.py checks that
every path agrees with the predicates.
"""

from __future__ import annotations

from typing import NamedTuple

from stepwise.models.workflow import ACTIVE, TaskStatus
from stepwise.permissions.operations import node_read, operation
from stepwise.permissions.policy import allows
from stepwise.permissions.roles import DatasetRole, OrgRole, effective_dataset_role

ACTIVE_STATUSES = tuple(sorted(status.value for status in ACTIVE))
# Seeing every task is what Query.task is guarded by, every asset what reading one by ID is
# (policy.OPERATIONS, NODE_ONLY_READS); a LABELER's own tasks are the row rule task.readOwn.
READ_TASK = operation("Query.task").action
READ_ASSET = node_read("Asset").action
# A campaign is listed (Organization.campaigns) to whoever Query.campaign would answer.
READ_CAMPAIGN = operation("Query.campaign").action
READ_OWN_TASK = "task.readOwn"


# ---------------------------------------------------------------- predicates for loaded rows


def sees_every_task(role: DatasetRole | None) -> bool:
    """Whether the role sees every task of the dataset's campaign (no row rule to apply)."""
    return allows(READ_TASK, role)


def can_see_task(role: DatasetRole | None, viewer_id: int | None, assignee_id: int | None,
                 status: TaskStatus | str) -> bool:
    """Whether a viewer with this effective dataset role may see a task with these fields."""
    if allows(READ_TASK, role):
        return True
    return (allows(READ_OWN_TASK, role) and viewer_id is not None and assignee_id == viewer_id
            and TaskStatus(status) in ACTIVE)


def can_see_asset(role: DatasetRole | None, viewer_id: int | None, task_assignee_id: int | None,
                  task_status: TaskStatus | str | None) -> bool:
    """Whether the viewer may see an asset; `task_*` are the fields of the asset's task (None
    before its campaign is launched). Whoever sees a task sees its asset."""
    if allows(READ_ASSET, role):
        return True
    return task_status is not None and can_see_task(role, viewer_id, task_assignee_id, task_status)


def can_see_issue(role: DatasetRole | None, viewer_id: int | None, task_assignee_id: int | None,
                  task_status: TaskStatus | str) -> bool:
    """Whether the viewer may see an issue; `task_*` are the fields of the task of the issue's
    asset. Issues are reachable exactly like that task (RULES.md: whoever can see a task can
    discuss its asset's issues)."""
    return can_see_task(role, viewer_id, task_assignee_id, task_status)


def was_or_became_theirs(viewer_id: int, assignee_id: int | None, previous_assignee_id: int | None) -> bool:
    """Whether a task change concerns the viewer: the task was theirs before it or is theirs after."""
    return viewer_id in (assignee_id, previous_assignee_id)


def hears_task_change(role: DatasetRole | None, viewer_id: int, assignee_id: int | None,
                      previous_assignee_id: int | None) -> bool:
    """Whether a subscriber hears of a task change: those who see every task; a LABELER when the
    task was or became theirs, so they learn that it left them. What the update then shows is
    `can_see_task` of the task as it is now (a task that left them is sealed, docs/permissions.md)."""
    if allows(READ_TASK, role):
        return True
    return allows(READ_OWN_TASK, role) and was_or_became_theirs(viewer_id, assignee_id, previous_assignee_id)


# ---------------------------------------------------------------- SQL filters for lists


class SqlFilter(NamedTuple):
    """A WHERE fragment with `?` placeholders and its parameters, in order."""

    sql: str
    params: list


def _role_allows(action: str, org_role_column: str, worker_role_column: str) -> SqlFilter:
    """SQL that is true when the effective dataset role, from an organization role and a worker
    role column (NULL: not a worker), allows `action`. Derived from `effective_dataset_role` and
    `allows` over every pair of roles, so it cannot drift from the predicates."""
    clauses, params = [], []
    worker_roles = (*DatasetRole, None)
    for org_role in OrgRole:
        allowed = [w for w in worker_roles if allows(action, effective_dataset_role(org_role, w))]
        if not allowed:
            continue
        params.append(org_role.value)
        if len(allowed) == len(worker_roles):
            clauses.append(f"{org_role_column} = ?")
            continue
        named = [w.value for w in allowed if w is not None]
        options = [f"{worker_role_column} IN ({', '.join('?' * len(named))})"] if named else []
        options += [f"{worker_role_column} IS NULL"] if None in allowed else []
        params += named
        clauses.append(f"({org_role_column} = ? AND ({' OR '.join(options)}))")
    return SqlFilter("(" + " OR ".join(clauses) + ")" if clauses else "1 = 0", params)


def _viewer_role_on(viewer_id: int, dataset_column: str, organization_column: str) -> tuple[str, list]:
    """JOINs giving `vm.role` (the viewer's membership of the organization: the row must exist)
    and `vw.role` (their worker row on the dataset, NULL if none)."""
    return (f" JOIN membership vm ON vm.organization_id = {organization_column} AND vm.user_id = ?"
            f" LEFT JOIN dataset_worker vw ON vw.dataset_id = {dataset_column} AND vw.user_id = vm.user_id",
            [viewer_id])


def task_filter(viewer_id: int, task: str = "task") -> SqlFilter:
    """The tasks (table alias `task`) the viewer may see: `can_see_task` in SQL."""
    joins, join_params = _viewer_role_on(viewer_id, "vc.dataset_id", "vc.organization_id")
    read = _role_allows(READ_TASK, "vm.role", "vw.role")
    own = _role_allows(READ_OWN_TASK, "vm.role", "vw.role")
    statuses = ", ".join("?" * len(ACTIVE_STATUSES))
    sql = (f"EXISTS (SELECT 1 FROM campaign vc{joins} WHERE vc.id = {task}.campaign_id AND ({read.sql}"
           f" OR ({own.sql} AND {task}.assignee_id = vm.user_id AND {task}.status IN ({statuses}))))")
    return SqlFilter(sql, [*join_params, *read.params, *own.params, *ACTIVE_STATUSES])


def campaign_filter(viewer_id: int, campaign: str = "campaign") -> SqlFilter:
    """The campaigns (table alias `campaign`) the viewer may open: their effective role on the
    campaign's dataset allows Query.campaign's action (a LABELER worker included)."""
    read = _role_allows(READ_CAMPAIGN, "vm.role", "vw.role")
    sql = (f"EXISTS (SELECT 1 FROM membership vm LEFT JOIN dataset_worker vw"
           f" ON vw.dataset_id = {campaign}.dataset_id AND vw.user_id = vm.user_id"
           f" WHERE vm.organization_id = {campaign}.organization_id AND vm.user_id = ? AND {read.sql})")
    return SqlFilter(sql, [viewer_id, *read.params])


def asset_filter(viewer_id: int, asset: str = "asset") -> SqlFilter:
    """The assets (table alias `asset`) the viewer may see: `can_see_asset` in SQL."""
    joins, join_params = _viewer_role_on(viewer_id, "vd.id", "vd.organization_id")
    read = _role_allows(READ_ASSET, "vm.role", "vw.role")
    own = task_filter(viewer_id, "vt")
    sql = (f"(EXISTS (SELECT 1 FROM dataset_version vv JOIN dataset vd ON vd.id = vv.dataset_id{joins}"
           f" WHERE vv.id = {asset}.version_id AND {read.sql})"
           f" OR EXISTS (SELECT 1 FROM campaign va JOIN task vt ON vt.campaign_id = va.id AND vt.asset_id = {asset}.id"
           f" WHERE va.version_id = {asset}.version_id AND {own.sql}))")
    return SqlFilter(sql, [*join_params, *read.params, *own.params])


def issue_filter(viewer_id: int, issue: str = "issue") -> SqlFilter:
    """The issues (table alias `issue`) the viewer may see: `can_see_issue` in SQL."""
    own = task_filter(viewer_id, "vt")
    sql = (f"EXISTS (SELECT 1 FROM task vt WHERE vt.campaign_id = {issue}.campaign_id"
           f" AND vt.asset_id = {issue}.asset_id AND {own.sql})")
    return SqlFilter(sql, own.params)
