from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('stepwise', '0002_campaigns_and_issues')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CampaignInstructions',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('campaign', fields.OneToOneField('stepwise.Campaign', source_field='campaign_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('filename', fields.CharField(max_length=200)),
                ('stored_name', fields.CharField(unique=True, max_length=64)),
                ('size', fields.BigIntField()),
                ('uploaded_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('uploaded_by', fields.ForeignKeyField('stepwise.User', source_field='uploaded_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'campaign_instructions', 'app': 'stepwise', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
