"""How a range splits into the rollup's whole UTC hours and the events at its edges, and the
duration bins (the same thresholds in Python and in SQL)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from stepwise.models.actions.rollups import DURATION_BINS, bin_bounds, bin_case, duration_bin
from stepwise.models.queries.analytics import AnalyticsFilter, split_by_hours


def at(hour: int, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(2030, 1, 7, hour, minute, second, micro, tzinfo=UTC)


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def test_whole_hours_need_no_events():
    hours, edges = split_by_hours(AnalyticsFilter(1, at(10), at(13)))
    assert hours == (epoch(at(10)), epoch(at(13))) and edges == []


def test_no_range_is_every_hour():
    assert split_by_hours(AnalyticsFilter(1)) == ((None, None), [])


def test_partial_hours_at_both_edges_come_from_the_events():
    query = AnalyticsFilter(1, at(10, 30), at(13, 0, 0, 1))
    hours, edges = split_by_hours(query)
    assert hours == (epoch(at(11)), epoch(at(13)))
    assert [(e.start, e.end) for e in edges] == [(at(10, 30), at(11)), (at(13), at(13, 0, 0, 1))]


def test_a_range_inside_one_hour_is_read_from_the_events_alone():
    query = AnalyticsFilter(1, at(10, 5), at(10, 55))
    assert split_by_hours(query) == (None, [query])
    query = AnalyticsFilter(1, at(10, 5), at(11, 55))  # no whole hour in between either
    assert split_by_hours(query) == (None, [query])


def test_open_ended_ranges():
    hours, edges = split_by_hours(AnalyticsFilter(1, start=at(10, 1)))
    assert hours == (epoch(at(11)), None) and [(e.start, e.end) for e in edges] == [(at(10, 1), at(11))]
    hours, edges = split_by_hours(AnalyticsFilter(1, end=at(10, 1)))
    assert hours == (None, epoch(at(10))) and [(e.start, e.end) for e in edges] == [(at(10), at(10, 1))]


@pytest.mark.parametrize("seconds", [0, 0.2, 0.999, 1, 1.18, 1.19, 59.9, 60, 3_600, 86_400, 604_800, 10**7])
def test_duration_bins_agree_in_python_and_sql(seconds):
    index = duration_bin(seconds)
    lower, upper = bin_bounds(index)
    assert lower <= seconds and (upper is None or seconds < upper) and 0 <= index < DURATION_BINS
    assert sqlite3.connect(":memory:").execute(f"SELECT {bin_case('?1')}", [seconds]).fetchone()[0] == index


def test_whole_days_inside_the_hours_come_from_the_daily_rollup():
    from stepwise.models.queries.analytics import split_hours_by_days

    day = 86_400
    start = epoch(at(0)) - day  # 2030-01-06 00:00
    assert split_hours_by_days((start + 3_600, start + 3 * day + 7_200)) == (
        (start + day, start + 3 * day), [(start + 3_600, start + day), (start + 3 * day, start + 3 * day + 7_200)])
    assert split_hours_by_days((start, start + 2 * day)) == ((start, start + 2 * day), [])
    assert split_hours_by_days((start + 3_600, start + day + 3_600)) == (None, [(start + 3_600, start + day + 3_600)])
    assert split_hours_by_days((None, start + 3_600)) == ((None, start), [(start, start + 3_600)])
    assert split_hours_by_days((None, None)) == ((None, None), [])
