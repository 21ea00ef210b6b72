"""Quality counts keep areas at three significant digits (models/actions/rollups.py kept_area):
the existing SHAPE and ASSET_AREA rows are merged into the rows of their rounded areas, so that a
database upgraded from before answers what a rebuild from its assets would."""

from tortoise import migrations
from tortoise.migrations import operations as ops

from stepwise.models.actions.rollups import kept_area

KINDS = "kind IN ('SHAPE', 'ASSET_AREA')"


async def merge_rounded(apps, schema_editor) -> None:
    client = schema_editor.client
    kept = kept_area("value", client.capabilities.dialect == "postgres")
    # Rows already at a kept value gain the others' counts (ON CONFLICT); the others go after.
    await client.execute_query(
        f"INSERT INTO quality_value_count (version_id, kind, label_id, value, n)"
        f" SELECT version_id, kind, label_id, {kept} AS v, SUM(n) FROM quality_value_count"
        f" WHERE {KINDS} AND value <> {kept} GROUP BY version_id, kind, label_id, v"
        f" ON CONFLICT (version_id, kind, label_id, value) DO UPDATE SET n = quality_value_count.n + excluded.n")
    await client.execute_query(f"DELETE FROM quality_value_count WHERE {KINDS} AND value <> {kept}")


class Migration(migrations.Migration):
    dependencies = [('stepwise', '0009_sessions')]

    initial = False

    operations = [ops.RunPython(merge_rounded)]
