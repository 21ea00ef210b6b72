"""Indexes for analytics: a campaign's completions by kind and time (covering), its issues by time."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('stepwise', '0004_task_least_loaded_index')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Issue',
            index=Index(fields=['campaign_id', 'created_at']),
        ),
        ops.AddIndex(
            model_name='Issue',
            index=Index(fields=['campaign_id', 'resolved_at']),
        ),
        ops.AddIndex(
            model_name='TaskEvent',
            index=Index(fields=['campaign_id', 'kind', 'at', 'step_id', 'actor_id', 'duration_seconds']),
        ),
    ]
