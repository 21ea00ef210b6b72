"""Operations as the code declares them. Pure: no database, web or GraphQL.

A resolver or action names its contract operation once, at import time
(`SUBMIT = operation("Mutation.submitTask")`), and checks it (`access.check(SUBMIT, ...)`); what
guards it comes from `policy.OPERATIONS`, never from a literal at the call site. Declarations are
recorded, so a test can compare what the code uses with the table in both directions.
"""

from __future__ import annotations

from dataclasses import dataclass

from stepwise.permissions.policy import NODE_ONLY_READS, OPERATIONS, PUBLIC, SIGNED_IN, Scope, allows, action_scope
from stepwise.permissions.roles import DatasetRole, OrgRole

ROOT_TYPES = ("Query", "Mutation", "Subscription")


@dataclass(frozen=True)
class Operation:
    """One operation of the contract ("Mutation.submitTask") and its guard from the table."""

    name: str
    guard: str  # PUBLIC, SIGNED_IN or a POLICY action

    @property
    def on_root(self) -> bool:
        """A root field (its object comes from arguments) rather than a field of a type."""
        return self.name.split(".")[0] in ROOT_TYPES

    @property
    def checks_object(self) -> bool:
        return self.guard not in (PUBLIC, SIGNED_IN)

    @property
    def action(self) -> str:
        """The POLICY action checked against the object the operation names."""
        if not self.checks_object:
            raise ValueError(f"{self.name} is {self.guard}: there is no object to check")
        return self.guard

    @property
    def scope(self) -> Scope:
        return action_scope(self.action)

    def allows(self, role: OrgRole | DatasetRole | None) -> bool:
        """Whether a viewer with `role` on the object may perform the operation."""
        return allows(self.action, role)


# What the code has declared: operation name -> Operation; node-only reads by type name.
DECLARED: dict[str, Operation] = {}
DECLARED_NODE_READS: dict[str, Operation] = {}


def operation(name: str) -> Operation:
    """The operation `name` ("Type.field") with its guard from OPERATIONS, recorded as used.
    An operation missing from the table fails here, when its module is imported."""
    guard = OPERATIONS.get(name)
    if guard is None:
        raise KeyError(f"{name} has no entry in permissions.policy.OPERATIONS")
    return DECLARED.setdefault(name, Operation(name, guard))


def node_read(type_name: str) -> Operation:
    """Reading a `type_name` by global ID, for the types with no root lookup (NODE_ONLY_READS)."""
    action = NODE_ONLY_READS.get(type_name)
    if action is None:
        raise KeyError(f"{type_name} has no entry in permissions.policy.NODE_ONLY_READS")
    return DECLARED_NODE_READS.setdefault(type_name, Operation(f"Query.node({type_name})", action))
