"""Typed errors of the domain. Pure: no database, web or GraphQL import.

Two channels, as the contract says:
- DomainError: a business rule refuses a mutation; it becomes a payload `UserError`.
- AccessError and its kinds: top-level GraphQL errors with `extensions.code`.
"""

from __future__ import annotations

from enum import StrEnum

# The top-level code of a request that failed because the database could not be reached (it is
# down or restarting): nothing was changed, and the same request may simply be sent again.
DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"
DATABASE_UNAVAILABLE_MESSAGE = "The database is unreachable at the moment; nothing was changed. Try again shortly."
# The same when the database's disk is full: the write was rolled back; reads go on.
DATABASE_FULL = "DATABASE_FULL"
DATABASE_FULL_MESSAGE = "The database's disk is full; nothing was changed. Try again once space is freed."


def storage_failure(unavailable: bool, full: bool) -> tuple[str, str] | None:
    """(code, message) of a request that failed for want of a database or of disk space."""
    if unavailable:
        return DATABASE_UNAVAILABLE, DATABASE_UNAVAILABLE_MESSAGE
    if full:
        return DATABASE_FULL, DATABASE_FULL_MESSAGE
    return None


class ErrorCode(StrEnum):
    INVALID_INPUT = "INVALID_INPUT"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    INVALID_STATE = "INVALID_STATE"
    NO_STEPS = "NO_STEPS"
    NO_ASSIGNEES = "NO_ASSIGNEES"
    NOT_ASSIGNEE = "NOT_ASSIGNEE"
    NOT_A_WORKER = "NOT_A_WORKER"
    WRONG_STEP = "WRONG_STEP"
    OPEN_ISSUES = "OPEN_ISSUES"
    ISSUE_REQUIRED = "ISSUE_REQUIRED"
    NO_PREVIOUS_ANNOTATION_STEP = "NO_PREVIOUS_ANNOTATION_STEP"
    CAMPAIGN_NOT_ONGOING = "CAMPAIGN_NOT_ONGOING"
    CONFLICT = "CONFLICT"
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    UNSUPPORTED_FILE_TYPE = "UNSUPPORTED_FILE_TYPE"


class DomainError(Exception):
    """A business rule refused the change; nothing was written."""

    def __init__(self, code: ErrorCode, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    @property
    def extensions(self) -> dict:
        """Used when one surfaces as a top-level error (outside a mutation payload)."""
        return {"code": self.code.value, "field": self.field}

    def __repr__(self) -> str:
        return f"DomainError({self.code}, {self.message!r}, field={self.field!r})"


def invalid_input(field: str, message: str) -> DomainError:
    return DomainError(ErrorCode.INVALID_INPUT, message, field)


class AccessError(Exception):
    """A top-level refusal. graphql-core copies `extensions` onto the GraphQL error."""

    code = "FORBIDDEN"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.extensions = {"code": self.code}


SIGN_IN_FIRST = "Sign in first: send 'Authorization: Bearer <token>'."
# A token was sent but names no session (mistyped, revoked, or from another server's database).
INVALID_TOKEN = "Invalid or expired token: sign in again (logIn) and send the new token."


class Unauthenticated(AccessError):
    code = "UNAUTHENTICATED"

    def __init__(self, message: str = SIGN_IN_FIRST) -> None:
        super().__init__(message)


class NotFound(AccessError):
    """The ID names nothing the viewer may see; the same answer as for nothing at all."""

    code = "NOT_FOUND"

    def __init__(self, what: str = "object") -> None:
        super().__init__(f"No {what} with this ID.")


class Forbidden(AccessError):
    code = "FORBIDDEN"

    def __init__(self, message: str = "Your role does not allow this.") -> None:
        super().__init__(message)


class BadRequest(AccessError):
    code = "BAD_REQUEST"


class NotAvailableYet(AccessError):
    """An operation of the contract that this release does not serve yet (see docs/api.md)."""

    code = "NOT_IMPLEMENTED"

    def __init__(self, operation: str) -> None:
        super().__init__(f"{operation} is not available in this release of Stepwise yet.")


class TooManySubscriptions(AccessError):
    """A subscribe past the per-user or per-process cap (STEPWISE_MAX_SUBSCRIPTIONS_*)."""

    code = "TOO_MANY_SUBSCRIPTIONS"
