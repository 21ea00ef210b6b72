import pytest

from stepwise.models.errors import BadRequest, NotFound
from stepwise.permissions.policy import POLICY, Scope, allows
from stepwise.permissions.roles import DatasetRole, OrgRole, effective_dataset_role
from stepwise.schema.ids import decode_id, encode_id, parse_id
from stepwise.schema.pagination import decode_cursor, encode_cursor, page_size


def test_ids_round_trip_and_are_typed():
    gid = encode_id("Dataset", 42)
    assert "42" not in gid  # opaque
    assert decode_id(gid, "Dataset") == 42
    with pytest.raises(NotFound):
        decode_id(gid, "Asset")


@pytest.mark.parametrize("garbage", ["", "!!!", "RGF0YXNldA", encode_id("Dataset", 1) + "x" * 200, "RGF0YXNldDotMQ"])
def test_garbage_ids_are_not_found(garbage):
    assert parse_id(garbage) is None or parse_id(garbage)[1] >= 0
    with pytest.raises(NotFound):
        decode_id(garbage, "Dataset")


def test_cursors_and_page_sizes():
    assert decode_cursor(encode_cursor(7)) == 7
    assert decode_cursor(None) == 0
    with pytest.raises(BadRequest):
        decode_cursor(encode_id("Dataset", 7))
    assert page_size(None) == 100 and page_size(500) == 500 and page_size(0) == 0
    for bad in (501, -1):
        with pytest.raises(BadRequest):
            page_size(bad)


def test_admin_acts_as_manager_and_outsiders_have_no_role():
    assert effective_dataset_role(OrgRole.ADMIN, None) is DatasetRole.MANAGER
    assert effective_dataset_role(OrgRole.ADMIN, DatasetRole.LABELER) is DatasetRole.MANAGER
    assert effective_dataset_role(OrgRole.MEMBER, DatasetRole.CONTRIBUTOR) is DatasetRole.CONTRIBUTOR
    assert effective_dataset_role(OrgRole.MEMBER, None) is None
    assert effective_dataset_role(None, DatasetRole.MANAGER) is None


def test_policy_entries_use_roles_of_their_scope_and_unknown_actions_fail_closed():
    for action, (scope, roles) in POLICY.items():
        expected = OrgRole if scope is Scope.ORGANIZATION else DatasetRole
        assert roles and all(isinstance(role, expected) for role in roles), action
    assert not allows("dataset.delete", DatasetRole.MANAGER)
    assert not allows("dataset.read", None)
    assert allows("dataset.read", DatasetRole.CONTRIBUTOR)
    assert not allows("dataset.read", DatasetRole.LABELER)
