"""Strawberry permission classes built from the policy table."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from stepwise.models.errors import Unauthenticated


class IsAuthenticated(BasePermission):
    """Every field but signUp, logIn and me needs a valid bearer token."""

    message = "Sign in first: send 'Authorization: Bearer <token>'."
    error_extensions = {"code": "UNAUTHENTICATED"}

    def has_permission(self, source: Any, info, **kwargs: Any) -> bool:
        if info.context.access.viewer is None:
            raise Unauthenticated()
        return True


def policy(action: str) -> type[BasePermission]:
    """A permission class for a field of a row-backed type: checks `action` of the policy table
    against the viewer's role on the object (`source.scope(info)` gives its organization and dataset)."""

    class PolicyPermission(BasePermission):
        message = f"Your role does not allow {action}."
        error_extensions = {"code": "FORBIDDEN"}

        async def has_permission(self, source: Any, info, **kwargs: Any) -> bool:
            org_id, dataset_id = await source.scope(info)
            await info.context.access.check(action, org_id, dataset_id)
            return True

    PolicyPermission.__name__ = f"Policy[{action}]"
    return PolicyPermission
