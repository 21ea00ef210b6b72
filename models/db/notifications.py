"""Notifications sent to users (models/notifications.py says which and when)."""

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from stepwise.models.notifications import NotificationKind


class Notification(Model):
    id = fields.IntField(primary_key=True)
    user = fields.ForeignKeyField("stepwise.User", related_name=False, on_delete=fields.CASCADE)
    campaign = fields.ForeignKeyField("stepwise.Campaign", related_name=False, on_delete=fields.CASCADE)
    kind = fields.CharEnumField(NotificationKind, max_length=20)
    created_at = fields.DatetimeField()
    read = fields.BooleanField(default=False)

    class Meta:
        table = "notification"
        # Once per user, campaign and kind, whatever the number of processes sending them.
        unique_together = (("user", "campaign", "kind"),)
        # A user's list, newest first, keyset by id.
        indexes = (Index(fields=("user_id", "id")),)
