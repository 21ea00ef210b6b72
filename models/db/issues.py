"""Issues raised on assets during a campaign, and their comment threads."""

from enum import StrEnum

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model


class IssueKind(StrEnum):
    ZONE = "ZONE"
    IMAGE = "IMAGE"


class IssueStatus(StrEnum):
    OPEN = "OPEN"
    RESOLVED = "RESOLVED"


class CommentAction(StrEnum):
    OPENED = "OPENED"
    REPLIED = "REPLIED"
    RESOLVED = "RESOLVED"
    REOPENED = "REOPENED"


class Issue(Model):
    id = fields.IntField(primary_key=True)
    campaign = fields.ForeignKeyField("stepwise.Campaign", related_name="issues", on_delete=fields.CASCADE)
    asset = fields.ForeignKeyField("stepwise.Asset", related_name=False, on_delete=fields.CASCADE)
    kind = fields.CharEnumField(IssueKind, max_length=10)
    status = fields.CharEnumField(IssueStatus, max_length=10, default=IssueStatus.OPEN)
    zone_x = fields.FloatField(null=True)
    zone_y = fields.FloatField(null=True)
    zone_width = fields.FloatField(null=True)
    zone_height = fields.FloatField(null=True)
    author = fields.ForeignKeyField("stepwise.User", related_name=False, on_delete=fields.CASCADE)
    step = fields.ForeignKeyField("stepwise.Step", related_name=False, null=True, on_delete=fields.SET_NULL)
    created_at = fields.DatetimeField()
    resolved_at = fields.DatetimeField(null=True)
    resolved_by = fields.ForeignKeyField("stepwise.User", related_name=False, null=True, on_delete=fields.SET_NULL)

    class Meta:
        table = "issue"
        indexes = (
            Index(fields=("asset_id", "status")),
            Index(fields=("campaign_id", "id")),
            # Analytics: issues raised, and resolved, in a time range.
            Index(fields=("campaign_id", "created_at")),
            Index(fields=("campaign_id", "resolved_at")),
        )


class IssueComment(Model):
    id = fields.IntField(primary_key=True)
    issue = fields.ForeignKeyField("stepwise.Issue", related_name="comments", on_delete=fields.CASCADE)
    author = fields.ForeignKeyField("stepwise.User", related_name=False, on_delete=fields.CASCADE)
    body = fields.TextField()
    action = fields.CharEnumField(CommentAction, max_length=10)
    created_at = fields.DatetimeField()

    class Meta:
        table = "issue_comment"
        indexes = (Index(fields=("issue_id", "id")),)
