"""The GraphQL enums are the domain's enums (schema/types/enums.py wraps them), not copies."""

from __future__ import annotations

from graphql import GraphQLEnumType

from stepwise.config import load_settings
from stepwise.models.db.issues import CommentAction, IssueKind, IssueStatus
from stepwise.models.errors import ErrorCode
from stepwise.models.history import StepState
from stepwise.models.interchange.common import AnnotationFormat
from stepwise.models.notifications import NotificationKind
from stepwise.models.shapes import ShapeKind
from stepwise.models.workflow import (
    AttributionPolicy,
    CampaignStatus,
    EventKind,
    NewAssetPolicy,
    PreexistingStrategy,
    StepType,
    TaskStatus,
)
from stepwise.permissions.roles import DatasetRole, OrgRole
from stepwise.schema.app import build_schema

DOMAIN = {
    "ErrorCode": ErrorCode, "OrgRole": OrgRole, "DatasetRole": DatasetRole, "ShapeKind": ShapeKind,
    "CampaignStatus": CampaignStatus, "StepType": StepType, "NewAssetPolicy": NewAssetPolicy,
    "AttributionPolicy": AttributionPolicy, "PreexistingAnnotationStrategy": PreexistingStrategy,
    "TaskStatus": TaskStatus, "TaskEventKind": EventKind, "IssueKind": IssueKind, "IssueStatus": IssueStatus,
    "IssueCommentAction": CommentAction, "StepState": StepState, "NotificationKind": NotificationKind,
    "AnnotationFormat": AnnotationFormat,
}
API_ONLY = {"Granularity", "IssueUpdateKind"}


def test_every_enum_of_the_schema_is_a_domain_enum_or_listed_as_api_only():
    schema = build_schema(load_settings({}))._schema
    enums = {name: t for name, t in schema.type_map.items() if isinstance(t, GraphQLEnumType) and not name.startswith("__")}
    assert set(enums) == set(DOMAIN) | API_ONLY
    assert {name: enums[name].wrapped_cls for name in DOMAIN} == DOMAIN
    for name, domain in DOMAIN.items():
        assert list(enums[name].values) == [member.name for member in domain], name
        assert enums[name].serialize(next(iter(domain))) == next(iter(domain)).name
