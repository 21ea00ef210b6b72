"""What the analytics fields fetch: the grouped rows of models/queries/analytics.py and quality.py,
each statement run once per selection however many fields use it (schema/types/analytics.py
wraps the figures). Only grouped figures cross into Python (rows per step, worker, kind or bucket).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from stepwise.models.db import campaigns as db
from stepwise.models.db.accounts import User as UserRow
from stepwise.models.errors import BadRequest
from stepwise.models.queries import analytics as q
from stepwise.models.queries.quality import QualityFigures, version_quality
from stepwise.models.queries.tasks import Progress, campaign_progress
from stepwise.models.workflow import StepType
from stepwise.resolvers.fields.common import rows_by_ids
from stepwise.schema.ids import decode_id

if TYPE_CHECKING:
    from stepwise.schema.context import Info


def _utc(moment: datetime) -> datetime:
    """A client's DateTime without an offset is read as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class AnalyticsSource:
    """One `analytics` selection: the statements it needs, each run once however many fields use it."""

    def __init__(self, campaign: db.Campaign, steps: list[db.Step], query: q.AnalyticsFilter) -> None:
        self.campaign, self.steps, self.query = campaign, steps, query
        self._completions: asyncio.Future | None = None
        self._issues: asyncio.Future | None = None
        self._percentiles: asyncio.Future | None = None
        self.step_types = {s.id: StepType(s.type) for s in steps}

    def completions(self) -> asyncio.Future:
        if self._completions is None:
            self._completions = asyncio.ensure_future(q.efficiency(self.query, self.step_types))
        return self._completions

    def percentiles(self) -> asyncio.Future:
        if self._percentiles is None:
            self._percentiles = asyncio.ensure_future(self._percentiles_if_any())
        return self._percentiles

    async def _percentiles_if_any(self) -> dict[str, tuple]:
        figures = await self.completions()
        if not figures.all.count:
            return {}
        return await q.percentiles(self.query, self.step_types, figures)

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


async def analytics_source(info: Info, campaign: db.Campaign, date_range, step_id, assignee_id,
                           granularity) -> AnalyticsSource:
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
    if start is not None:
        q.bucket_starts(query, set())  # a range too long for the granularity is refused before anything is counted
    return AnalyticsSource(campaign, steps, query)


@dataclass
class ThroughputFigures:
    steps: list[db.Step]            # the campaign's steps (for the progress)
    progress: Progress
    shown_steps: list[db.Step]      # the steps `stepId` leaves
    active_by_step: dict[int, int]
    workers: list[tuple[UserRow, int]]  # most loaded first
    completions: q.Efficiency
    issues: q.IssueFigures
    buckets: list[int]


async def throughput_figures(info: Info, source: AnalyticsSource) -> ThroughputFigures:
    """Active tasks per step and worker now, the submission and issue series, the progress."""
    active = await q.active_tasks(source.query)
    by_step: dict[int, int] = {}
    by_worker: dict[int, int] = {}
    for step_id, assignee_id, count in active:
        by_step[step_id] = by_step.get(step_id, 0) + count
        if assignee_id is not None:
            by_worker[assignee_id] = by_worker.get(assignee_id, 0) + count
    ranked = sorted(by_worker, key=lambda user_id: (-by_worker[user_id], user_id))
    users = await rows_by_ids(info, UserRow, ranked)
    figures, issues, buckets = await source.completions(), await source.issues(), await source.buckets_with_data()
    return ThroughputFigures(
        steps=source.steps, progress=await campaign_progress(source.campaign, source.steps),
        shown_steps=[s for s in source.steps if source.query.step_id in (None, s.id)],
        active_by_step=by_step,
        workers=[(user, by_worker[user_id]) for user_id, user in zip(ranked, users, strict=True) if user is not None],
        completions=figures, issues=issues, buckets=buckets)


async def efficiency_figures(source: AnalyticsSource) -> tuple[q.Efficiency, q.IssueFigures, list[int]]:
    """The completions, the issue counts and the bucket list."""
    return await source.completions(), await source.issues(), await source.buckets_with_data()


async def duration_percentiles(source: AnalyticsSource, group: str) -> tuple:
    """(p50, p95) of a group of durations ("ALL", "ANNOTATION", "REVIEW"); (None, None) without any."""
    return (await source.percentiles()).get(group, (None, None))


async def quality_figures(info: Info, version_id: int, bins: int | None) -> tuple[QualityFigures, list]:
    """The quality figures of a version's accepted annotations, and the version's labels."""
    figures = await version_quality(version_id, 10 if bins is None else bins)
    return figures, await info.context.loaders.labels_by_version.load(version_id)
