"""Sessions: failed log-ins counted per account and per address (throttling), and when each token
was last used (idle tokens expire). Tokens that exist already count as used now: they get a whole
idle period from the upgrade."""

import time

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


async def tokens_used_now(apps, schema_editor) -> None:
    await schema_editor.client.execute_query(f"UPDATE api_token SET last_used = {int(time.time())}")


class Migration(migrations.Migration):
    dependencies = [('stepwise', '0006_analytics_rollups')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LoginFailures',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=200)),
                ('failures', fields.IntField()),
                ('window_started', fields.BigIntField()),
            ],
            options={'table': 'login_failures', 'app': 'stepwise', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='ApiToken',
            name='last_used',
            field=fields.BigIntField(default=0),
        ),
        ops.RunPython(tokens_used_now),
    ]
