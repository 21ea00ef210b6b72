"""permissions/visibility.py: the predicates say what RULES.md says, and the SQL filters select
exactly what the predicates allow, over every combination of roles, assignee and status (on an
in-memory SQLite database holding only the columns the filters read)."""

from __future__ import annotations

import itertools
import sqlite3

import pytest

from stepwise.models.workflow import TaskStatus
from stepwise.permissions import visibility
from stepwise.permissions.roles import DatasetRole, OrgRole, effective_dataset_role

VIEWER, OTHER = 1, 2
ORG_ROLES = [None, *OrgRole]
WORKER_ROLES = [None, *DatasetRole]
ASSIGNEES = [VIEWER, OTHER, None]


@pytest.mark.parametrize(("role", "assignee", "status", "visible"), [
    (DatasetRole.MANAGER, OTHER, TaskStatus.DONE, True),
    (DatasetRole.CONTRIBUTOR, None, TaskStatus.SKIPPED, True),
    (DatasetRole.LABELER, VIEWER, TaskStatus.IN_PROGRESS, True),
    (DatasetRole.LABELER, VIEWER, TaskStatus.TO_REWORK, True),
    (DatasetRole.LABELER, OTHER, TaskStatus.IN_PROGRESS, False),
    (DatasetRole.LABELER, VIEWER, TaskStatus.DONE, False),
    (DatasetRole.LABELER, None, TaskStatus.SKIPPED, False),
    (None, VIEWER, TaskStatus.IN_PROGRESS, False),
])
def test_the_task_predicate_says_what_the_rules_say(role, assignee, status, visible):
    assert visibility.can_see_task(role, VIEWER, assignee, status) is visible
    assert visibility.can_see_issue(role, VIEWER, assignee, status) is visible


def test_an_asset_is_visible_with_asset_read_or_through_its_visible_task():
    assert visibility.can_see_asset(DatasetRole.CONTRIBUTOR, VIEWER, None, None)  # before launch
    assert not visibility.can_see_asset(DatasetRole.LABELER, VIEWER, None, None)
    assert visibility.can_see_asset(DatasetRole.LABELER, VIEWER, VIEWER, "TO_REWORK")
    assert not visibility.can_see_asset(DatasetRole.LABELER, VIEWER, OTHER, "IN_PROGRESS")


def test_who_hears_of_a_task_change():
    assert visibility.hears_task_change(DatasetRole.CONTRIBUTOR, VIEWER, OTHER, None)
    assert visibility.hears_task_change(DatasetRole.LABELER, VIEWER, OTHER, VIEWER)  # it left them
    assert visibility.hears_task_change(DatasetRole.LABELER, VIEWER, VIEWER, OTHER)  # it became theirs
    assert not visibility.hears_task_change(DatasetRole.LABELER, VIEWER, OTHER, OTHER)
    assert not visibility.hears_task_change(None, VIEWER, VIEWER, VIEWER)


@pytest.fixture
def every_case():
    """One dataset (and organization) per pair of viewer roles, holding one task (on its own asset,
    with one issue) per assignee and status; returns the connection and each row's expectation."""
    db = sqlite3.connect(":memory:")
    db.executescript("""
        CREATE TABLE membership (organization_id INT, user_id INT, role TEXT);
        CREATE TABLE dataset_worker (dataset_id INT, user_id INT, role TEXT);
        CREATE TABLE dataset (id INT, organization_id INT);
        CREATE TABLE dataset_version (id INT, dataset_id INT);
        CREATE TABLE campaign (id INT, version_id INT, dataset_id INT, organization_id INT);
        CREATE TABLE task (id INT, campaign_id INT, asset_id INT, assignee_id INT, status TEXT);
        CREATE TABLE asset (id INT, version_id INT);
        CREATE TABLE issue (id INT, campaign_id INT, asset_id INT);
    """)
    expected = {"task": {}, "asset": {}, "issue": {}}
    row = itertools.count(1)
    for place, (org_role, worker_role) in enumerate(itertools.product(ORG_ROLES, WORKER_ROLES), start=1):
        if org_role is not None:
            db.execute("INSERT INTO membership VALUES (?, ?, ?)", (place, VIEWER, org_role.value))
        if worker_role is not None:
            db.execute("INSERT INTO dataset_worker VALUES (?, ?, ?)", (place, VIEWER, worker_role.value))
        db.execute("INSERT INTO dataset VALUES (?, ?)", (place, place))
        db.execute("INSERT INTO dataset_version VALUES (?, ?)", (place, place))
        role = effective_dataset_role(org_role, worker_role)
        lone_asset = next(row)  # an asset of a version without a campaign yet
        db.execute("INSERT INTO asset VALUES (?, ?)", (lone_asset, place + 10_000))
        db.execute("INSERT INTO dataset_version VALUES (?, ?)", (place + 10_000, place))
        expected["asset"][lone_asset] = visibility.can_see_asset(role, VIEWER, None, None)
        db.execute("INSERT INTO campaign VALUES (?, ?, ?, ?)", (place, place, place, place))
        for assignee, status in itertools.product(ASSIGNEES, TaskStatus):
            task = next(row)
            db.execute("INSERT INTO asset VALUES (?, ?)", (task, place))
            db.execute("INSERT INTO task VALUES (?, ?, ?, ?, ?)", (task, place, task, assignee, status.value))
            db.execute("INSERT INTO issue VALUES (?, ?, ?)", (task, place, task))
            expected["task"][task] = visibility.can_see_task(role, VIEWER, assignee, status)
            expected["asset"][task] = visibility.can_see_asset(role, VIEWER, assignee, status)
            expected["issue"][task] = visibility.can_see_issue(role, VIEWER, assignee, status)
    yield db, expected
    db.close()


@pytest.mark.parametrize(("table", "make"), [("task", visibility.task_filter), ("asset", visibility.asset_filter),
                                             ("issue", visibility.issue_filter)])
def test_each_sql_filter_selects_exactly_what_its_predicate_allows(every_case, table, make):
    db, expected = every_case
    where = make(VIEWER, "x")
    selected = {row[0] for row in db.execute(f"SELECT x.id FROM {table} x WHERE {where.sql}", where.params)}
    assert selected == {pk for pk, visible in expected[table].items() if visible}
    assert 0 < len(selected) < len(expected[table])  # both answers occur
