"""Rollups that analytics read instead of the raw rows, each written in the same transaction as
the change it summarises (models/actions/rollups.py says how; migration 0006 backfills them).

`completion_rollup`: a campaign's completions (submit, rework, skip) per UTC hour, step, worker
and kind: counts, duration sums, min, max, and a histogram of the durations in DURATION_BINS
fixed log-scale bins (columns d0 ... d80) from which p50/p95 are read to the bin;
`completion_day_rollup` the same per UTC day.
`quality_value_count`: per dataset version, how many shapes carry a (label, area), how many
annotated assets have a shape count, how many assets have an area: the quality histograms read
these numbers instead of parsing every annotation.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

# Bin 0 holds durations under 1 s; bin k (1 ... 79) [2^((k-1)/4), 2^(k/4)) seconds; bin 80 the rest
# (from 2^(79/4) s, about 10.2 days). Each bin spans a factor 2^(1/4) ≈ 1.19.
DURATION_BINS = 81
BIN_COLUMNS = tuple(f"d{k}" for k in range(DURATION_BINS))


class CompletionRollup(Model):
    id = fields.BigIntField(primary_key=True)
    campaign_id = fields.IntField()
    step_id = fields.IntField(null=True)
    actor_id = fields.IntField(null=True)
    kind = fields.CharField(max_length=20)
    hour = fields.BigIntField()  # the UTC hour's start, in seconds since the epoch
    n = fields.IntField(default=0)  # completions
    measured = fields.IntField(default=0)  # those with a duration
    total_seconds = fields.FloatField(default=0.0)
    min_seconds = fields.FloatField(null=True)
    max_seconds = fields.FloatField(null=True)
    for _column in BIN_COLUMNS:  # the class namespace: one integer column per duration bin
        locals()[_column] = fields.IntField(default=0)
    del _column

    class Meta:
        table = "completion_rollup"
        unique_together = (("campaign_id", "hour", "step_id", "actor_id", "kind"),)


class CompletionDayRollup(Model):
    # The same figures per UTC day: whole days of a range are read here (30 rows a month per step,
    # worker and kind instead of 720), the hours around them from completion_rollup.
    id = fields.BigIntField(primary_key=True)
    campaign_id = fields.IntField()
    step_id = fields.IntField(null=True)
    actor_id = fields.IntField(null=True)
    kind = fields.CharField(max_length=20)
    day = fields.BigIntField()  # the UTC day's start, in seconds since the epoch
    n = fields.IntField(default=0)
    measured = fields.IntField(default=0)
    total_seconds = fields.FloatField(default=0.0)
    min_seconds = fields.FloatField(null=True)
    max_seconds = fields.FloatField(null=True)
    for _column in BIN_COLUMNS:
        locals()[_column] = fields.IntField(default=0)
    del _column

    class Meta:
        table = "completion_day_rollup"
        unique_together = (("campaign_id", "day", "step_id", "actor_id", "kind"),)


class QualityValueCount(Model):
    id = fields.BigIntField(primary_key=True)
    version_id = fields.IntField()
    # SHAPE (label_id, value = area; -1 for a shape without one), SHAPE_COUNT (value = shapes in an
    # annotated asset), ASSET_AREA (value = width × height); label_id 0 when it does not apply.
    kind = fields.CharField(max_length=12)
    label_id = fields.IntField()
    value = fields.FloatField()
    n = fields.IntField(default=0)

    class Meta:
        table = "quality_value_count"
        unique_together = (("version_id", "kind", "label_id", "value"),)
        indexes = (Index(fields=("version_id", "kind", "value")),)


# A campaign's tasks per (status, step, assignee): progress and active tasks read these counts
# instead of the tasks. step_id / assignee_id 0 stand for none (a unique key with NULLs would
# never conflict). `submits` adds each submit where the task went: only its sum over a campaign
# means something (the campaign's submissions, for progress). No docstring: Tortoise would make
# it the table's comment.
class TaskCount(Model):

    id = fields.BigIntField(primary_key=True)
    campaign_id = fields.IntField()
    status = fields.CharField(max_length=20)
    step_id = fields.IntField()
    assignee_id = fields.IntField()
    n = fields.IntField(default=0)
    submits = fields.BigIntField(default=0)

    class Meta:
        table = "task_count"
        unique_together = (("campaign_id", "status", "step_id", "assignee_id"),)
