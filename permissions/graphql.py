"""Strawberry permission classes built from the operations table (permissions/policy.py)."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from stepwise.permissions.operations import Operation, operation
from stepwise.permissions.policy import PUBLIC


class IsAuthenticated(BasePermission):
    """Every field but signUp, logIn and me needs a valid bearer token."""

    message = "Sign in first: send 'Authorization: Bearer <token>'."
    error_extensions = {"code": "UNAUTHENTICATED"}

    def has_permission(self, source: Any, info, **kwargs: Any) -> bool:
        info.context.access.require_viewer()  # UNAUTHENTICATED, saying whether a token was refused
        return True


class Public(BasePermission):
    """A PUBLIC operation: anyone, signed in or not."""

    message = "Never refused."

    def has_permission(self, source: Any, info, **kwargs: Any) -> bool:
        return True


def guard(name: str | Operation) -> list[type[BasePermission]]:
    """The permission classes of the field serving operation `name` ("Type.field"), from its
    OPERATIONS entry. Root fields need a signed-in viewer unless PUBLIC; the resolver or its action
    checks the object the arguments name with the same operation. On a type's field, a POLICY
    action is checked here against the object (`source.scope(info)`: its organization and dataset).
    Each class carries `operation`, so a test can match every field to its entry."""
    op = name if isinstance(name, Operation) else operation(name)
    if op.on_root:
        base = Public if op.guard == PUBLIC else IsAuthenticated
        return [type(f"Guard[{op.name}]", (base,), {"operation": op, "__module__": __name__})]
    return [_policy_permission(op)]


def _policy_permission(op: Operation) -> type[BasePermission]:
    class PolicyPermission(BasePermission):
        operation = op
        message = f"Your role does not allow {op.action}."
        error_extensions = {"code": "FORBIDDEN"}

        async def has_permission(self, source: Any, info, **kwargs: Any) -> bool:
            org_id, dataset_id = await source.scope(info)
            await info.context.access.check(op, org_id, dataset_id)
            return True

    PolicyPermission.__name__ = f"Guard[{op.name}]"
    return PolicyPermission
