from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from stepwise.permissions.roles import DatasetRole, OrgRole
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Organization',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'organization', 'app': 'stepwise', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Dataset',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('stepwise.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='datasets', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'dataset', 'app': 'stepwise', 'unique_together': (('organization', 'name'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DatasetVersion',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('dataset', fields.ForeignKeyField('stepwise.Dataset', source_field='dataset_id', db_constraint=True, to_field='id', related_name='versions', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'dataset_version', 'app': 'stepwise', 'unique_together': (('dataset', 'name'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Label',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('version', fields.ForeignKeyField('stepwise.DatasetVersion', source_field='version_id', db_constraint=True, to_field='id', related_name='labels', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=200)),
            ],
            options={'table': 'label', 'app': 'stepwise', 'unique_together': (('version', 'name'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='User',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('username', fields.CharField(unique=True, max_length=40)),
                ('email', fields.CharField(unique=True, max_length=254)),
                ('password_hash', fields.CharField(max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'user', 'app': 'stepwise', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ApiToken',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('stepwise.User', source_field='user_id', db_constraint=True, to_field='id', related_name='tokens', on_delete=OnDelete.CASCADE)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('label', fields.CharField(max_length=100)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'api_token', 'app': 'stepwise', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Asset',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('version', fields.ForeignKeyField('stepwise.DatasetVersion', source_field='version_id', db_constraint=True, to_field='id', related_name='assets', on_delete=OnDelete.CASCADE)),
                ('filename', fields.CharField(max_length=500)),
                ('width', fields.IntField()),
                ('height', fields.IntField()),
                ('url', fields.CharField(null=True, max_length=2000)),
                ('annotation', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('annotation_updated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('annotation_updated_by', fields.ForeignKeyField('stepwise.User', source_field='annotation_updated_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'asset', 'app': 'stepwise', 'unique_together': (('version', 'filename'),), 'indexes': [Index(fields=['version_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DatasetWorker',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('dataset', fields.ForeignKeyField('stepwise.Dataset', source_field='dataset_id', db_constraint=True, to_field='id', related_name='workers', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('stepwise.User', source_field='user_id', db_constraint=True, to_field='id', related_name='dataset_roles', on_delete=OnDelete.CASCADE)),
                ('role', fields.CharEnumField(description='MANAGER: MANAGER\nCONTRIBUTOR: CONTRIBUTOR\nLABELER: LABELER', enum_type=DatasetRole, max_length=20)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'dataset_worker', 'app': 'stepwise', 'unique_together': (('dataset', 'user'),), 'indexes': [Index(fields=['user_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Invitation',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('stepwise.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='invitations', on_delete=OnDelete.CASCADE)),
                ('email', fields.CharField(max_length=254)),
                ('role', fields.CharEnumField(description='ADMIN: ADMIN\nMEMBER: MEMBER\nUNPRIVILEGED: UNPRIVILEGED', enum_type=OrgRole, max_length=20)),
                ('invited_by', fields.ForeignKeyField('stepwise.User', source_field='invited_by_id', db_constraint=True, to_field='id', related_name='sent_invitations', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'invitation', 'app': 'stepwise', 'unique_together': (('organization', 'email'),), 'indexes': [Index(fields=['email'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Membership',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('stepwise.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='memberships', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('stepwise.User', source_field='user_id', db_constraint=True, to_field='id', related_name='memberships', on_delete=OnDelete.CASCADE)),
                ('role', fields.CharEnumField(description='ADMIN: ADMIN\nMEMBER: MEMBER\nUNPRIVILEGED: UNPRIVILEGED', enum_type=OrgRole, max_length=20)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'membership', 'app': 'stepwise', 'unique_together': (('organization', 'user'),), 'indexes': [Index(fields=['user_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
