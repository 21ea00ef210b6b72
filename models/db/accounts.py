"""People and organizations: users, API tokens, organizations, memberships, invitations."""

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from stepwise.permissions.roles import OrgRole


class User(Model):
    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=40, unique=True)
    email = fields.CharField(max_length=254, unique=True)
    password_hash = fields.CharField(max_length=200)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "user"


class ApiToken(Model):
    # A bearer token, stored only as its SHA-256 digest.

    id = fields.IntField(primary_key=True)
    user = fields.ForeignKeyField("stepwise.User", related_name="tokens", on_delete=fields.CASCADE)
    token_hash = fields.CharField(max_length=64, unique=True)
    label = fields.CharField(max_length=100)
    created_at = fields.DatetimeField(auto_now_add=True)
    # When it was last seen on a request (Unix seconds, kept to the minute): idle tokens expire.
    last_used = fields.BigIntField(default=0)

    class Meta:
        table = "api_token"


class LoginFailures(Model):
    # Failed logIn attempts in the current window of one key: "user:<name>" or "address:<ip>".

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=200, unique=True)
    failures = fields.IntField()
    window_started = fields.BigIntField()  # Unix seconds

    class Meta:
        table = "login_failures"


class Organization(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "organization"


class Membership(Model):
    id = fields.IntField(primary_key=True)
    organization = fields.ForeignKeyField(
        "stepwise.Organization", related_name="memberships", on_delete=fields.CASCADE
    )
    user = fields.ForeignKeyField("stepwise.User", related_name="memberships", on_delete=fields.CASCADE)
    role = fields.CharEnumField(OrgRole, max_length=20)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "membership"
        unique_together = (("organization", "user"),)
        indexes = (Index(fields=("user_id",)),)


class Invitation(Model):
    # A pending invitation of an e-mail address; it becomes a membership at sign-up.

    id = fields.IntField(primary_key=True)
    organization = fields.ForeignKeyField(
        "stepwise.Organization", related_name="invitations", on_delete=fields.CASCADE
    )
    email = fields.CharField(max_length=254)
    role = fields.CharEnumField(OrgRole, max_length=20)
    invited_by = fields.ForeignKeyField("stepwise.User", related_name="sent_invitations", on_delete=fields.CASCADE)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "invitation"
        unique_together = (("organization", "email"),)
        indexes = (Index(fields=("email",)),)
