"""Datasets, their workers, versions, labels and assets (with a pre-existing annotation)."""

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from stepwise.permissions.roles import DatasetRole


class Dataset(Model):
    id = fields.IntField(primary_key=True)
    organization = fields.ForeignKeyField(
        "stepwise.Organization", related_name="datasets", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=200)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "dataset"
        unique_together = (("organization", "name"),)


class DatasetWorker(Model):
    id = fields.IntField(primary_key=True)
    dataset = fields.ForeignKeyField("stepwise.Dataset", related_name="workers", on_delete=fields.CASCADE)
    user = fields.ForeignKeyField("stepwise.User", related_name="dataset_roles", on_delete=fields.CASCADE)
    role = fields.CharEnumField(DatasetRole, max_length=20)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "dataset_worker"
        unique_together = (("dataset", "user"),)
        indexes = (Index(fields=("user_id",)),)


class DatasetVersion(Model):
    id = fields.IntField(primary_key=True)
    dataset = fields.ForeignKeyField("stepwise.Dataset", related_name="versions", on_delete=fields.CASCADE)
    name = fields.CharField(max_length=200)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "dataset_version"
        unique_together = (("dataset", "name"),)


class Label(Model):
    id = fields.IntField(primary_key=True)
    version = fields.ForeignKeyField("stepwise.DatasetVersion", related_name="labels", on_delete=fields.CASCADE)
    name = fields.CharField(max_length=200)

    class Meta:
        table = "label"
        unique_together = (("version", "name"),)


class Asset(Model):
    # An image of a version. `annotation` holds the accepted shapes as JSON, or null.

    id = fields.IntField(primary_key=True)
    version = fields.ForeignKeyField("stepwise.DatasetVersion", related_name="assets", on_delete=fields.CASCADE)
    filename = fields.CharField(max_length=500)
    width = fields.IntField()
    height = fields.IntField()
    url = fields.CharField(max_length=2000, null=True)
    annotation = fields.JSONField(null=True)
    annotation_updated_at = fields.DatetimeField(null=True)
    annotation_updated_by = fields.ForeignKeyField(
        "stepwise.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "asset"
        unique_together = (("version", "filename"),)
        # Keyset pages walk (version, id) without scanning.
        indexes = (Index(fields=("version_id", "id")),)
