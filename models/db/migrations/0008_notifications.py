"""The notification table (models/db/notifications.py): one row per user, campaign and kind; and an index
of who held a task at a step by user, for removeDatasetWorker."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from stepwise.models.notifications import NotificationKind
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('stepwise', '0007_event_log')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Notification',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('stepwise.User', source_field='user_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('campaign', fields.ForeignKeyField('stepwise.Campaign', source_field='campaign_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='DUE_SOON: DUE_SOON\nOVERDUE: OVERDUE\nCOMPLETED: COMPLETED', enum_type=NotificationKind, max_length=20)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('read', fields.BooleanField(default=False)),
            ],
            options={'table': 'notification', 'app': 'stepwise', 'unique_together': (('user', 'campaign', 'kind'),), 'indexes': [Index(fields=['user_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddIndex(
            model_name='TaskStepHolder',
            index=Index(fields=['user_id', 'step_id']),
        ),
    ]
