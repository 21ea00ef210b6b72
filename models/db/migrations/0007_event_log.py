"""The per-campaign event log (campaign_event) and PostgreSQL's per-campaign counter of it
(campaign_event_seq). The log starts empty: cursors exist only for events written from now on."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('stepwise', '0006_analytics_rollups')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CampaignEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('campaign', fields.ForeignKeyField('stepwise.Campaign', source_field='campaign_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('seq', fields.BigIntField()),
                ('kind', fields.CharField(max_length=20)),
                ('task_id', fields.IntField(null=True)),
                ('issue_id', fields.IntField(null=True)),
                ('asset_id', fields.IntField(null=True)),
                ('actor_id', fields.IntField(null=True)),
                ('assignee_id', fields.IntField(null=True)),
                ('previous_assignee_id', fields.IntField(null=True)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'campaign_event', 'app': 'stepwise', 'unique_together': (('campaign', 'seq'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CampaignEventSeq',
            fields=[
                ('campaign_id', fields.IntField(generated=False, primary_key=True, unique=True, db_index=True)),
                ('last_seq', fields.BigIntField(default=0)),
            ],
            options={'table': 'campaign_event_seq', 'app': 'stepwise', 'pk_attr': 'campaign_id'},
            bases=['Model'],
        ),
    ]
