"""sql.merge_writes: a transition's independent writes as one PostgreSQL statement (its effect on
both backends is covered by tests/api/test_transitions.py and test_analytics_rollups.py)."""

from __future__ import annotations

import pytest

from stepwise.models.db.sql import Then, merge_writes


def test_writes_become_ctes_with_their_parameters_in_order():
    statement, params = merge_writes([("UPDATE task SET version = ? WHERE id = ?", [2, 7]),
                                      ("INSERT INTO task_event (task_id) VALUES (?)", [7])])
    assert statement == ("WITH w0 AS (UPDATE task SET version = ? WHERE id = ? RETURNING 1),"
                         " w1 AS (INSERT INTO task_event (task_id) VALUES (?) RETURNING 1)"
                         " SELECT (SELECT COUNT(*) FROM w0), (SELECT COUNT(*) FROM w1)")
    assert params == [2, 7, 7]


def test_a_last_write_follows_them_reading_their_counts():
    # `then` selects FROM done: PostgreSQL can run it only once every merged write has run
    # (tests/integration/test_merged_then.py shows the lock order this gives).
    statement, params = merge_writes([("UPDATE task SET version = ? WHERE id = ?", [2, 7])],
                                     Then("b AS (INSERT INTO s (n) SELECT ? FROM done RETURNING n)",
                                          "INSERT INTO log (n) SELECT n FROM b RETURNING n", [3]))
    assert statement == ("WITH w0 AS (UPDATE task SET version = ? WHERE id = ? RETURNING 1),"
                         " done AS (SELECT (SELECT COUNT(*) FROM w0) AS c0),"
                         " b AS (INSERT INTO s (n) SELECT ? FROM done RETURNING n),"
                         " then_ AS (INSERT INTO log (n) SELECT n FROM b RETURNING n)"
                         " SELECT done.*, then_.* FROM done, then_")
    assert params == [2, 7, 3]


@pytest.mark.parametrize("statement", ["SELECT 1", "WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a",
                                       "INSERT INTO t (a) VALUES (?) RETURNING id"])
def test_only_plain_writes_without_returning_are_merged(statement):
    with pytest.raises(ValueError):
        merge_writes([(statement, [])])
