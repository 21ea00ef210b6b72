"""Every operation of the schema has its entry in `policy.OPERATIONS`, every entry is used by the
code, and each field carries the guard of its own entry (permissions/operations.py)."""

from __future__ import annotations

import pytest
from graphql import GraphQLObjectType

from stepwise.config import load_settings
from stepwise.permissions.operations import DECLARED, DECLARED_NODE_READS, ROOT_TYPES, node_read, operation
from stepwise.permissions.policy import NODE_ONLY_READS, OPERATIONS, PUBLIC
from stepwise.schema.app import build_schema


@pytest.fixture(scope="module")
def fields() -> dict[str, list[type]]:
    """Every field of the exported schema's object types: "Type.field" -> its permission classes."""
    schema = build_schema(load_settings({}))._schema  # building it imports every resolver module
    found = {}
    for type_name, graphql_type in schema.type_map.items():
        if isinstance(graphql_type, GraphQLObjectType) and not type_name.startswith("__"):
            for field_name, field in graphql_type.fields.items():
                definition = field.extensions.get("strawberry-definition")
                found[f"{type_name}.{field_name}"] = list(definition.permission_classes) if definition else []
    return found


def guards_of(classes: list[type]) -> list[str]:
    return [cls.operation.name for cls in classes if hasattr(cls, "operation")]


def test_every_root_field_has_an_entry_and_carries_its_guard(fields):
    roots = {name: classes for name, classes in fields.items() if name.split(".")[0] in ROOT_TYPES}
    assert len(roots) > 40
    assert sorted(name for name in roots if name not in OPERATIONS) == [], "root fields with no OPERATIONS entry"
    assert {name: guards_of(classes) for name, classes in roots.items() if guards_of(classes) != [name]} == {}


def test_every_guarded_type_field_carries_its_own_entry(fields):
    guarded = {name: guards_of(classes) for name, classes in fields.items()
               if name.split(".")[0] not in ROOT_TYPES and classes}
    assert guarded, "no type field is guarded"
    assert {name: guards for name, guards in guarded.items() if guards != [name]} == {}


def test_every_entry_names_a_field_of_the_schema(fields):
    assert sorted(name for name in OPERATIONS if name not in fields) == []


def test_every_entry_is_used_at_runtime(fields):
    """Declared when their modules are imported (building the schema imports them all)."""
    assert sorted(set(OPERATIONS) - set(DECLARED)) == [], "entries no code declares"
    assert sorted(set(NODE_ONLY_READS) - set(DECLARED_NODE_READS)) == [], "node reads no code declares"
    assert all(DECLARED[name].guard == guard for name, guard in OPERATIONS.items())


def test_an_operation_without_an_entry_fails_when_declared():
    with pytest.raises(KeyError, match="Mutation.deleteEverything has no entry"):
        operation("Mutation.deleteEverything")
    with pytest.raises(KeyError, match="Campaign has no entry"):
        node_read("Campaign")
    assert "Mutation.deleteEverything" not in DECLARED


def test_public_and_signed_in_operations_check_no_object():
    with pytest.raises(ValueError, match="Query.me is public"):
        operation("Query.me").action
    assert OPERATIONS["Query.me"] == PUBLIC
    assert operation("Mutation.submitTask").action == "task.work"


def test_each_task_action_is_asked_through_operations_guarded_by_its_transition_rule():
    """The transition table names the policy action each actor needs (models/workflow.py); the
    operations the actions are checked with (OPERATIONS) must be guarded by that same action."""
    from stepwise.models.actions.reassign import REASSIGN
    from stepwise.models.actions.transitions import OPERATION_OF_ACTION
    from stepwise.models.workflow import TRANSITIONS, TaskAction

    asked_through = {action: [op] for action, op in OPERATION_OF_ACTION.items()}
    asked_through[TaskAction.REASSIGN] = list(REASSIGN.values())
    assert set(asked_through) == set(TRANSITIONS)
    assert {action: [op.action for op in ops] for action, ops in asked_through.items()} == {
        action: [TRANSITIONS[action].operation] * len(ops) for action, ops in asked_through.items()}
