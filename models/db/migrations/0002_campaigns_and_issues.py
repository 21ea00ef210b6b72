from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from stepwise.models.db.issues import CommentAction, IssueKind, IssueStatus
from stepwise.models.workflow import AttributionPolicy, CampaignStatus, EventKind, NewAssetPolicy, PreexistingStrategy, StepType, TaskStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('stepwise', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Campaign',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('version', fields.OneToOneField('stepwise.DatasetVersion', source_field='version_id', db_constraint=True, to_field='id', related_name='campaign', on_delete=OnDelete.CASCADE)),
                ('dataset', fields.ForeignKeyField('stepwise.Dataset', source_field='dataset_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('organization', fields.ForeignKeyField('stepwise.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('status', fields.CharEnumField(default=CampaignStatus.DRAFT, description='DRAFT: DRAFT\nONGOING: ONGOING\nOVERDUE: OVERDUE\nCOMPLETED: COMPLETED', enum_type=CampaignStatus, max_length=20)),
                ('new_asset_policy', fields.CharEnumField(default=NewAssetPolicy.ADD_TO_CAMPAIGN, description='ADD_TO_CAMPAIGN: ADD_TO_CAMPAIGN\nIGNORE: IGNORE', enum_type=NewAssetPolicy, max_length=20)),
                ('attribution_policy', fields.CharEnumField(default=AttributionPolicy.ROUND_ROBIN, description='ROUND_ROBIN: ROUND_ROBIN\nLEAST_LOADED: LEAST_LOADED', enum_type=AttributionPolicy, max_length=20)),
                ('preexisting_strategy', fields.CharEnumField(default=PreexistingStrategy.BACK_TO_ANNOTATION, description='BACK_TO_ANNOTATION: BACK_TO_ANNOTATION\nFIRST_QUALITY_CHECK: FIRST_QUALITY_CHECK\nDONE: DONE', enum_type=PreexistingStrategy, max_length=30)),
                ('due_date', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('close_to_new_assets', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('launched_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('completed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'campaign', 'app': 'stepwise', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Step',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('campaign', fields.ForeignKeyField('stepwise.Campaign', source_field='campaign_id', db_constraint=True, to_field='id', related_name='steps', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=200)),
                ('type', fields.CharEnumField(description='ANNOTATION: ANNOTATION\nREVIEW: REVIEW', enum_type=StepType, max_length=20)),
                ('position', fields.IntField()),
                ('round_robin_next', fields.IntField(default=0)),
            ],
            options={'table': 'step', 'app': 'stepwise', 'indexes': [Index(fields=['campaign_id', 'position'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Issue',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('campaign', fields.ForeignKeyField('stepwise.Campaign', source_field='campaign_id', db_constraint=True, to_field='id', related_name='issues', on_delete=OnDelete.CASCADE)),
                ('asset', fields.ForeignKeyField('stepwise.Asset', source_field='asset_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='ZONE: ZONE\nIMAGE: IMAGE', enum_type=IssueKind, max_length=10)),
                ('status', fields.CharEnumField(default=IssueStatus.OPEN, description='OPEN: OPEN\nRESOLVED: RESOLVED', enum_type=IssueStatus, max_length=10)),
                ('zone_x', fields.FloatField(null=True)),
                ('zone_y', fields.FloatField(null=True)),
                ('zone_width', fields.FloatField(null=True)),
                ('zone_height', fields.FloatField(null=True)),
                ('author', fields.ForeignKeyField('stepwise.User', source_field='author_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('step', fields.ForeignKeyField('stepwise.Step', source_field='step_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('resolved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('resolved_by', fields.ForeignKeyField('stepwise.User', source_field='resolved_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'issue', 'app': 'stepwise', 'indexes': [Index(fields=['asset_id', 'status']), Index(fields=['campaign_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='IssueComment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('issue', fields.ForeignKeyField('stepwise.Issue', source_field='issue_id', db_constraint=True, to_field='id', related_name='comments', on_delete=OnDelete.CASCADE)),
                ('author', fields.ForeignKeyField('stepwise.User', source_field='author_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('body', fields.TextField(unique=False)),
                ('action', fields.CharEnumField(description='OPENED: OPENED\nREPLIED: REPLIED\nRESOLVED: RESOLVED\nREOPENED: REOPENED', enum_type=CommentAction, max_length=10)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'issue_comment', 'app': 'stepwise', 'indexes': [Index(fields=['issue_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StepAssignee',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('step', fields.ForeignKeyField('stepwise.Step', source_field='step_id', db_constraint=True, to_field='id', related_name='assignees', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('stepwise.User', source_field='user_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('position', fields.IntField()),
            ],
            options={'table': 'step_assignee', 'app': 'stepwise', 'unique_together': (('step', 'user'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Task',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('campaign', fields.ForeignKeyField('stepwise.Campaign', source_field='campaign_id', db_constraint=True, to_field='id', related_name='tasks', on_delete=OnDelete.CASCADE)),
                ('asset', fields.ForeignKeyField('stepwise.Asset', source_field='asset_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('status', fields.CharEnumField(description='IN_PROGRESS: IN_PROGRESS\nTO_REWORK: TO_REWORK\nDONE: DONE\nSKIPPED: SKIPPED', enum_type=TaskStatus, max_length=20)),
                ('step', fields.ForeignKeyField('stepwise.Step', source_field='step_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('assignee', fields.ForeignKeyField('stepwise.User', source_field='assignee_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('version', fields.IntField(default=1)),
                ('annotation', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('annotation_updated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('annotation_updated_by', fields.ForeignKeyField('stepwise.User', source_field='annotation_updated_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('is_initial', fields.BooleanField(default=True)),
                ('step_entered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('submit_count', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'task', 'app': 'stepwise', 'unique_together': (('campaign', 'asset'),), 'indexes': [Index(fields=['campaign_id', 'id']), Index(fields=['campaign_id', 'status', 'step_id']), Index(fields=['assignee_id', 'status'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TaskEvent',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('task', fields.ForeignKeyField('stepwise.Task', source_field='task_id', db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.CASCADE)),
                ('campaign', fields.ForeignKeyField('stepwise.Campaign', source_field='campaign_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='CREATED: CREATED\nSTARTED: STARTED\nSAVED: SAVED\nSUBMITTED: SUBMITTED\nSENT_TO_REWORK: SENT_TO_REWORK\nSKIPPED: SKIPPED\nREASSIGNED: REASSIGNED\nDONE: DONE', enum_type=EventKind, max_length=20)),
                ('step', fields.ForeignKeyField('stepwise.Step', source_field='step_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('actor', fields.ForeignKeyField('stepwise.User', source_field='actor_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('assignee', fields.ForeignKeyField('stepwise.User', source_field='assignee_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('annotation', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('duration_seconds', fields.FloatField(null=True)),
            ],
            options={'table': 'task_event', 'app': 'stepwise', 'indexes': [Index(fields=['task_id', 'id']), Index(fields=['campaign_id', 'at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TaskStepHolder',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('task', fields.ForeignKeyField('stepwise.Task', source_field='task_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('step', fields.ForeignKeyField('stepwise.Step', source_field='step_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('stepwise.User', source_field='user_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'task_step_holder', 'app': 'stepwise', 'unique_together': (('task', 'step'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
