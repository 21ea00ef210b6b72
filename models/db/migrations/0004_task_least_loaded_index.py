from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('stepwise', '0003_campaign_instructions')]

    initial = False

    operations = [
        ops.RemoveIndex(
            model_name='Task',
            name=None,
            fields=['assignee_id', 'status'],
        ),
        ops.AddIndex(
            model_name='Task',
            index=Index(fields=['assignee_id', 'status', 'campaign_id']),
        ),
    ]
