"""Analytics rollups and task counts (models/db/rollups.py), backfilled from the rows they summarise so that a
database upgraded from before answers the same figures (models/actions/rollups.py rebuilds)."""

from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from stepwise.models.actions.rollups import completion_rebuild, quality_rebuild, task_count_rebuild
from stepwise.models.db.rollups import BIN_COLUMNS


async def backfill(apps, schema_editor) -> None:
    client = schema_editor.client
    postgres = client.capabilities.dialect == "postgres"
    for statement, params in [*completion_rebuild(postgres), *quality_rebuild(postgres), *task_count_rebuild()]:
        if postgres:
            counter = iter(range(1, 10_000))
            statement = "".join(f"${next(counter)}" if c == "?" else c for c in statement)
        await client.execute_query(statement, params)


class Migration(migrations.Migration):
    dependencies = [('stepwise', '0005_analytics_indexes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CompletionRollup',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('campaign_id', fields.IntField()),
                ('step_id', fields.IntField(null=True)),
                ('actor_id', fields.IntField(null=True)),
                ('kind', fields.CharField(max_length=20)),
                ('hour', fields.BigIntField()),
                ('n', fields.IntField(default=0)),
                ('measured', fields.IntField(default=0)),
                ('total_seconds', fields.FloatField(default=0.0)),
                ('min_seconds', fields.FloatField(null=True)),
                ('max_seconds', fields.FloatField(null=True)),
                *[(column, fields.IntField(default=0)) for column in BIN_COLUMNS],
            ],
            options={'table': 'completion_rollup', 'app': 'stepwise',
                     'unique_together': (('campaign_id', 'hour', 'step_id', 'actor_id', 'kind'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CompletionDayRollup',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('campaign_id', fields.IntField()),
                ('step_id', fields.IntField(null=True)),
                ('actor_id', fields.IntField(null=True)),
                ('kind', fields.CharField(max_length=20)),
                ('day', fields.BigIntField()),
                ('n', fields.IntField(default=0)),
                ('measured', fields.IntField(default=0)),
                ('total_seconds', fields.FloatField(default=0.0)),
                ('min_seconds', fields.FloatField(null=True)),
                ('max_seconds', fields.FloatField(null=True)),
                *[(column, fields.IntField(default=0)) for column in BIN_COLUMNS],
            ],
            options={'table': 'completion_day_rollup', 'app': 'stepwise',
                     'unique_together': (('campaign_id', 'day', 'step_id', 'actor_id', 'kind'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='QualityValueCount',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('version_id', fields.IntField()),
                ('kind', fields.CharField(max_length=12)),
                ('label_id', fields.IntField()),
                ('value', fields.FloatField()),
                ('n', fields.IntField(default=0)),
            ],
            options={'table': 'quality_value_count', 'app': 'stepwise',
                     'unique_together': (('version_id', 'kind', 'label_id', 'value'),),
                     'indexes': [Index(fields=['version_id', 'kind', 'value'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TaskCount',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('campaign_id', fields.IntField()),
                ('status', fields.CharField(max_length=20)),
                ('step_id', fields.IntField()),
                ('assignee_id', fields.IntField()),
                ('n', fields.IntField(default=0)),
                ('submits', fields.BigIntField(default=0)),
            ],
            options={'table': 'task_count', 'app': 'stepwise',
                     'unique_together': (('campaign_id', 'status', 'step_id', 'assignee_id'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.RunPython(backfill),
    ]
