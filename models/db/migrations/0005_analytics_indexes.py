"""Indexes for analytics: a campaign's completions by kind and time (covering), its issues by time;
the task index of progress and active tasks widened to cover them (no row lookups)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('stepwise', '0004_task_least_loaded_index')]

    initial = False

    operations = [
        ops.RemoveIndex(
            model_name='Task',
            name=None,
            fields=['campaign_id', 'status', 'step_id'],
        ),
        ops.AddIndex(
            model_name='Task',
            index=Index(fields=['campaign_id', 'status', 'step_id', 'assignee_id', 'submit_count']),
        ),
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
