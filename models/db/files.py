"""Files kept for campaigns: the workers' PDF instructions (one per campaign)."""

from tortoise import fields
from tortoise.models import Model


class CampaignInstructions(Model):
    id = fields.IntField(primary_key=True)
    campaign = fields.OneToOneField("stepwise.Campaign", related_name=False, on_delete=fields.CASCADE)
    # The name the client sent, cleaned for display; the file on disk is `stored_name`, random.
    filename = fields.CharField(max_length=200)
    stored_name = fields.CharField(max_length=64, unique=True)
    size = fields.BigIntField()
    uploaded_at = fields.DatetimeField()
    uploaded_by = fields.ForeignKeyField("stepwise.User", related_name=False, null=True, on_delete=fields.SET_NULL)

    class Meta:
        table = "campaign_instructions"
