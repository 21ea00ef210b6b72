"""Builds the analytics types from the grouped rows of models/queries/analytics.py and quality.py.

Only grouped figures cross into Python here (rows per step, worker, kind or bucket); the empty
buckets of a series are filled in from the bucket list.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from stepwise.models.db import campaigns as db
from stepwise.models.db.issues import IssueKind
from stepwise.models.errors import BadRequest
from stepwise.models.queries import analytics as q
from stepwise.models.queries.quality import version_quality
from stepwise.models.workflow import StepType
from stepwise.schema.context import Info
from stepwise.schema.ids import decode_id
from stepwise.schema.types.accounts import load_users
from stepwise.schema.types.analytics import (
    CampaignAnalytics,
    DurationBucket,
    DurationStats,
    Efficiency,
    HistogramBin,
    IssueKindCount,
    LabelCount,
    Quality,
    Throughput,
    TimeBucket,
    WorkerCount,
)
from stepwise.schema.types.enums import IssueKindType


def _utc(moment: datetime) -> datetime:
    """A client's DateTime without an offset is read as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def analytics_of(info: Info, campaign: db.Campaign, date_range, step_id, assignee_id, granularity):
    """Check the arguments and return the lazy analytics of `campaign` (each part counts when selected)."""
    steps = await info.context.loaders.steps_by_campaign.load(campaign.id)
    step_pk = decode_id(step_id, "Step") if step_id else None
    if step_pk is not None and step_pk not in {s.id for s in steps}:
        raise BadRequest("stepId is not a step of this campaign.")
    start = end = None
    if date_range is not None:
        start, end = _utc(date_range.from_), _utc(date_range.to)
        if start >= end:
            raise BadRequest("range.from must be before range.to.")
    query = q.AnalyticsFilter(campaign.id, start, end, step_pk, decode_id(assignee_id, "User") if assignee_id else None,
                              (granularity.value if granularity is not None else "DAY"))
    source = AnalyticsSource(campaign, steps, query)
    if start is not None:
        q.bucket_starts(query, set())  # a range too long for the granularity is refused before anything is counted
    return CampaignAnalytics(source=source)


class AnalyticsSource:
    """One `analytics` selection: the statements it needs, each run once however many fields use it."""

    def __init__(self, campaign: db.Campaign, steps: list[db.Step], query: q.AnalyticsFilter) -> None:
        self.campaign, self.steps, self.query = campaign, steps, query
        self._completions: asyncio.Task | None = None
        self._issues: asyncio.Task | None = None
        self._percentiles: asyncio.Task | None = None
        self.step_types = {s.id: StepType(s.type) for s in steps}

    def completions(self) -> asyncio.Future:
        if self._completions is None:
            self._completions = asyncio.ensure_future(q.efficiency(self.query, self.step_types))
        return self._completions

    async def percentiles(self) -> dict[str, tuple]:
        if self._percentiles is None:
            self._percentiles = asyncio.ensure_future(self._percentiles_if_any())
        return await self._percentiles

    async def _percentiles_if_any(self) -> dict[str, tuple]:
        if not (await self.completions()).all.count:
            return {}
        return await q.percentiles(self.query, self.step_types)

    def issues(self) -> asyncio.Future:
        if self._issues is None:
            self._issues = asyncio.ensure_future(q.issue_figures(self.query))
        return self._issues

    async def buckets_with_data(self) -> list[int]:
        """The bucket list; without a range it spans the buckets holding any of the series' data."""
        if self.query.start is not None:
            return q.bucket_starts(self.query, set())
        figures, issues = await self.completions(), await self.issues()
        seen = set(issues.created)
        for per_type in (figures.submissions, figures.buckets):
            for series in per_type.values():
                seen.update(series)
        return q.bucket_starts(self.query, seen)

    async def throughput(self, info: Info) -> Throughput:
        from stepwise.schema.types.campaigns import Step, StepCount, progress_of

        active = await q.active_tasks(self.query)
        by_step: dict[int, int] = {}
        by_worker: dict[int, int] = {}
        for step_id, assignee_id, count in active:
            by_step[step_id] = by_step.get(step_id, 0) + count
            if assignee_id is not None:
                by_worker[assignee_id] = by_worker.get(assignee_id, 0) + count
        workers = sorted(by_worker, key=lambda user_id: (-by_worker[user_id], user_id))
        users = await load_users(info, workers)
        figures, issues, buckets = await self.completions(), await self.issues(), await self.buckets_with_data()
        steps = [s for s in self.steps if self.query.step_id in (None, s.id)]
        return Throughput(
            progress=await progress_of(info, self.campaign),
            tasks_by_step=[StepCount(step=Step.from_row(s), count=by_step.get(s.id, 0)) for s in steps],
            annotation_submissions=_time_series(buckets, figures.submissions[StepType.ANNOTATION]),
            review_submissions=_time_series(buckets, figures.submissions[StepType.REVIEW]),
            assignments_by_worker=[WorkerCount(user=user, count=by_worker[user_id])
                                   for user_id, user in zip(workers, users, strict=True) if user is not None],
            issues_created=_time_series(buckets, issues.created),
            issues_by_kind=[IssueKindCount(kind=IssueKindType(kind.value), count=issues.by_kind.get(kind.value, 0))
                            for kind in IssueKind],
        )

    async def efficiency(self) -> Efficiency:
        figures, issues, buckets = await self.completions(), await self.issues(), await self.buckets_with_data()
        return Efficiency(
            task_duration=_stats(figures.all, self, "ALL"),
            issues_opened=issues.opened,
            issues_closed=issues.closed,
            annotation=_stats(figures.by_type[StepType.ANNOTATION], self, StepType.ANNOTATION.value),
            review=_stats(figures.by_type[StepType.REVIEW], self, StepType.REVIEW.value),
            annotation_time=_duration_series(buckets, figures.buckets[StepType.ANNOTATION]),
            review_time=_duration_series(buckets, figures.buckets[StepType.REVIEW]),
        )


def _time_series(buckets: list[int], counts: dict[int, int]) -> list[TimeBucket]:
    return [TimeBucket(start=q.as_datetime(b), count=counts.get(b, 0)) for b in buckets]


def _duration_series(buckets: list[int], sums: dict[int, list]) -> list[DurationBucket]:
    series = []
    for b in buckets:
        count, total = sums.get(b, (0, 0.0))
        series.append(DurationBucket(start=q.as_datetime(b), count=count, total_seconds=float(total),
                                     average_seconds=total / count if count else None))
    return series


def _stats(durations: q.Durations, source: AnalyticsSource, group: str) -> DurationStats:
    return DurationStats(
        count=durations.count, total_seconds=float(durations.total),
        average_seconds=durations.total / durations.count if durations.count else None,
        min_seconds=durations.minimum, max_seconds=durations.maximum, source=source, group=group)


async def quality_of(info: Info, version_id: int, bins: int | None) -> Quality:
    """The quality figures of a version's accepted annotations; every label of the version is listed."""
    from stepwise.schema.types.datasets import Label

    figures = await version_quality(version_id, 10 if bins is None else bins)
    labels = await info.context.loaders.labels_by_version.load(version_id)

    def histogram(bins_) -> list[HistogramBin]:
        return [HistogramBin(lower=b.lower, upper=b.upper, count=b.count) for b in bins_]

    return Quality(
        shapes_by_label=[LabelCount(label=Label.from_row(row), count=figures.shapes_by_label.get(row.id, 0))
                         for row in labels],
        assets_by_shape_count=histogram(figures.assets_by_shape_count),
        shape_areas=histogram(figures.shape_areas),
        asset_areas=histogram(figures.asset_areas),
    )
