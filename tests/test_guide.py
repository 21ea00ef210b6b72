"""docs/guide.md cannot rot: every ```graphql block in it is one named operation that parses and
validates against the schema the server exports, and the guide walks the whole story."""

from __future__ import annotations

import re

import pytest
from graphql import OperationDefinitionNode, build_schema, parse, validate

from conftest import ROOT
from stepwise.config import load_settings
from stepwise.schema.app import build_schema as build_stepwise_schema

GUIDE = ROOT / "docs" / "guide.md"
BLOCKS = re.findall(r"```graphql\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.DOTALL)


@pytest.fixture(scope="module")
def exported_schema():
    return build_schema(build_stepwise_schema(load_settings({})).as_str())


@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: block.split("(")[0].split("{")[0].strip())
def test_each_operation_of_the_guide_is_valid_against_the_schema(block, exported_schema):
    document = parse(block)
    [operation] = document.definitions  # one operation per block, so each can be pasted alone
    assert isinstance(operation, OperationDefinitionNode) and operation.name is not None
    assert validate(exported_schema, document) == []


def test_the_guide_covers_the_story():
    names = {parse(block).definitions[0].name.value for block in BLOCKS}
    story = {"LogIn", "CreateOrganization", "CreateDataset", "AddDatasetWorker", "CreateVersion", "AddAssets",
             "CreateCampaign", "AddStep", "ConfigureCampaign", "Launch", "MyTasks", "OpenTask", "Save", "Submit",
             "SendToRework", "Skip", "RaiseIssue", "Resolve", "Progress", "Analytics", "Snapshot", "TaskFeed",
             "IssueFeed", "LiveProgress", "ImportCoco", "ExportLinks"}
    assert story <= names, story - names
    assert len(names) == len(BLOCKS), "two blocks share an operation name"
