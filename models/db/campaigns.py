"""Campaigns, their workflow steps and step assignees, tasks and the task event log."""

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from stepwise.models.workflow import (
    AttributionPolicy,
    CampaignStatus,
    EventKind,
    NewAssetPolicy,
    PreexistingStrategy,
    StepType,
    TaskStatus,
)


class Campaign(Model):
    id = fields.IntField(primary_key=True)
    version = fields.OneToOneField("stepwise.DatasetVersion", related_name="campaign", on_delete=fields.CASCADE)
    # Denormalized from the version's dataset: every access check needs it.
    dataset = fields.ForeignKeyField("stepwise.Dataset", related_name=False, on_delete=fields.CASCADE)
    organization = fields.ForeignKeyField("stepwise.Organization", related_name=False, on_delete=fields.CASCADE)
    status = fields.CharEnumField(CampaignStatus, max_length=20, default=CampaignStatus.DRAFT)
    new_asset_policy = fields.CharEnumField(NewAssetPolicy, max_length=20, default=NewAssetPolicy.ADD_TO_CAMPAIGN)
    attribution_policy = fields.CharEnumField(AttributionPolicy, max_length=20, default=AttributionPolicy.ROUND_ROBIN)
    preexisting_strategy = fields.CharEnumField(
        PreexistingStrategy, max_length=30, default=PreexistingStrategy.BACK_TO_ANNOTATION
    )
    due_date = fields.DatetimeField(null=True)
    close_to_new_assets = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    launched_at = fields.DatetimeField(null=True)
    completed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "campaign"


class Step(Model):
    id = fields.IntField(primary_key=True)
    campaign = fields.ForeignKeyField("stepwise.Campaign", related_name="steps", on_delete=fields.CASCADE)
    name = fields.CharField(max_length=200)
    type = fields.CharEnumField(StepType, max_length=20)
    position = fields.IntField()
    # Index into the assignee list where the next round-robin attribution starts.
    round_robin_next = fields.IntField(default=0)

    class Meta:
        table = "step"
        indexes = (Index(fields=("campaign_id", "position")),)


class StepAssignee(Model):
    id = fields.IntField(primary_key=True)
    step = fields.ForeignKeyField("stepwise.Step", related_name="assignees", on_delete=fields.CASCADE)
    user = fields.ForeignKeyField("stepwise.User", related_name=False, on_delete=fields.CASCADE)
    position = fields.IntField()

    class Meta:
        table = "step_assignee"
        unique_together = (("step", "user"),)


class Task(Model):
    id = fields.IntField(primary_key=True)
    campaign = fields.ForeignKeyField("stepwise.Campaign", related_name="tasks", on_delete=fields.CASCADE)
    asset = fields.ForeignKeyField("stepwise.Asset", related_name=False, on_delete=fields.CASCADE)
    status = fields.CharEnumField(TaskStatus, max_length=20)
    step = fields.ForeignKeyField("stepwise.Step", related_name=False, null=True, on_delete=fields.SET_NULL)
    assignee = fields.ForeignKeyField("stepwise.User", related_name=False, null=True, on_delete=fields.SET_NULL)
    version = fields.IntField(default=1)
    annotation = fields.JSONField(null=True)
    annotation_updated_at = fields.DatetimeField(null=True)
    annotation_updated_by = fields.ForeignKeyField(
        "stepwise.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    is_initial = fields.BooleanField(default=True)  # created at launch (for closeToNewAssets...)
    step_entered_at = fields.DatetimeField(null=True)
    started_at = fields.DatetimeField(null=True)  # startTask on the current step visit
    submit_count = fields.IntField(default=0)  # successful submitTask calls, for progress
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "task"
        unique_together = (("campaign", "asset"),)
        indexes = (
            Index(fields=("campaign_id", "id")),
            Index(fields=("campaign_id", "status", "step_id")),
            # A worker's active tasks (my… lists), and LEAST_LOADED's count of a step's assignees'
            # active tasks in one campaign, under the write lock: a covering range per assignee.
            Index(fields=("assignee_id", "status", "campaign_id")),
        )


class TaskEvent(Model):
    id = fields.IntField(primary_key=True)
    task = fields.ForeignKeyField("stepwise.Task", related_name="events", on_delete=fields.CASCADE)
    campaign = fields.ForeignKeyField("stepwise.Campaign", related_name=False, on_delete=fields.CASCADE)
    kind = fields.CharEnumField(EventKind, max_length=20)
    step = fields.ForeignKeyField("stepwise.Step", related_name=False, null=True, on_delete=fields.SET_NULL)
    actor = fields.ForeignKeyField("stepwise.User", related_name=False, null=True, on_delete=fields.SET_NULL)
    assignee = fields.ForeignKeyField("stepwise.User", related_name=False, null=True, on_delete=fields.SET_NULL)
    at = fields.DatetimeField()
    # SUBMITTED: the annotation as submitted at `step`; completions: how long the step visit took.
    annotation = fields.JSONField(null=True)
    duration_seconds = fields.FloatField(null=True)

    class Meta:
        table = "task_event"
        indexes = (
            Index(fields=("task_id", "id")),
            Index(fields=("campaign_id", "at")),
            # Analytics (models/queries/analytics.py): a campaign's completions of a kind in a time
            # range, read from the index alone (it holds every column they group and sum).
            Index(fields=("campaign_id", "kind", "at", "step_id", "actor_id", "duration_seconds")),
        )


class TaskStepHolder(Model):
    # Who last held a task at a step: a task returning there goes back to them (sticky attribution).
    id = fields.IntField(primary_key=True)
    task = fields.ForeignKeyField("stepwise.Task", related_name=False, on_delete=fields.CASCADE)
    step = fields.ForeignKeyField("stepwise.Step", related_name=False, on_delete=fields.CASCADE)
    user = fields.ForeignKeyField("stepwise.User", related_name=False, on_delete=fields.CASCADE)

    class Meta:
        table = "task_step_holder"
        unique_together = (("task", "step"),)
        # removeDatasetWorker forgets a removed worker's holds on the dataset's steps.
        indexes = (Index(fields=("user_id", "step_id")),)


class CampaignEventSeq(Model):
    # PostgreSQL's counter of a campaign's event log: the seq of its latest event, taken with an
    # upsert ... RETURNING whose row lock is held to commit, so seqs commit in order. Its own row,
    # not the campaign's: it is locked only by the append that ends a writer's transaction, so
    # whoever holds it waits for nothing else (no deadlock with the campaign and step locks).
    # SQLite has one writer at a time and reads MAX(seq) instead (models/actions/event_log.py).
    campaign_id = fields.IntField(primary_key=True, generated=False)
    last_seq = fields.BigIntField(default=0)

    class Meta:
        table = "campaign_event_seq"


class CampaignEvent(Model):
    # The campaign's event log: every task and issue event in commit order (seq 1, 2, ...);
    # what subscribers resume from and catch up with (models/actions/event_log.py).
    id = fields.BigIntField(primary_key=True)
    campaign = fields.ForeignKeyField("stepwise.Campaign", related_name=False, on_delete=fields.CASCADE)
    seq = fields.BigIntField()
    kind = fields.CharField(max_length=20)
    task_id = fields.IntField(null=True)  # task events
    issue_id = fields.IntField(null=True)  # issue events
    asset_id = fields.IntField(null=True)
    actor_id = fields.IntField(null=True)
    assignee_id = fields.IntField(null=True)
    previous_assignee_id = fields.IntField(null=True)
    at = fields.DatetimeField()

    class Meta:
        table = "campaign_event"
        unique_together = (("campaign", "seq"),)
