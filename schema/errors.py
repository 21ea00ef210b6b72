"""How errors leave the server: known ones keep their code, anything unexpected is masked and logged."""

from __future__ import annotations

import logging
import re

from graphql.error import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import MaskErrors
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

from stepwise.models.db.availability import database_full, database_unavailable
from stepwise.models.errors import AccessError, DomainError, storage_failure

logger = logging.getLogger("stepwise.errors")
SUGGESTION = re.compile(r" Did you mean .*\?$")


# A document that names no runnable operation, or one the transport cannot carry (a query or a
# mutation over the legacy graphql-ws protocol, which runs subscriptions only).
OPERATION_MISTAKES = (CannotGetOperationTypeError, InvalidOperationTypeError)
LEGACY_PROTOCOL_ONLY = ("{kind} cannot be sent over the legacy graphql-ws protocol, which carries subscriptions only: "
                        "send them over HTTP, or use graphql-transport-ws.")


def is_unexpected(error: GraphQLError) -> bool:
    """Mask everything but GraphQL's own errors and our typed ones."""
    original = error.original_error
    return original is not None and not isinstance(original, (AccessError, DomainError, GraphQLError, *OPERATION_MISTAKES))


def with_code(error: GraphQLError) -> GraphQLError:
    """The error with its `extensions.code` (and a clear message for an operation mistake)."""
    if isinstance(error.original_error, InvalidOperationTypeError):
        kind = error.original_error.operation_type.value
        error.message = LEGACY_PROTOCOL_ONLY.format(kind="Queries" if kind == "query" else f"{kind.capitalize()}s")
    if not error.extensions or "code" not in error.extensions:
        error.extensions = {**(error.extensions or {}), "code": _default_code(error)}
    return error


def _default_code(error: GraphQLError) -> str:
    if isinstance(error.original_error, OPERATION_MISTAKES):
        return "BAD_REQUEST"
    if isinstance(error, GraphQLSyntaxError) or error.message.startswith("Syntax Error"):
        return "BAD_REQUEST" if "tokens" in error.message else "GRAPHQL_PARSE_FAILED"
    return "GRAPHQL_VALIDATION_FAILED" if not error.path else "BAD_USER_INPUT"


class ErrorPolicy(MaskErrors):
    """MaskErrors that keeps codes, logs what it hides with the request id, and gives anonymous
    callers no field suggestions (they would map the schema for free)."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected, error_message="Unexpected error.")

    def _request_id(self) -> str | None:
        return getattr(self.execution_context.context, "request_id", None)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = self._request_id()
        original = error.original_error
        failure = storage_failure(database_unavailable(original), database_full(original))
        if failure:  # not a bug (the database is down, or its disk full): say so, with its own code
            logger.warning("request %s at %s: %s: %s", request_id, error.path, failure[0], original)
            return GraphQLError(failure[1], nodes=error.nodes, path=error.path,
                                extensions={"code": failure[0], "requestId": request_id})
        logger.error(
            "unexpected error in request %s at %s", request_id, error.path, exc_info=error.original_error
        )
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
        return masked

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        context = self.execution_context.context
        anonymous = getattr(getattr(context, "access", None), "viewer", None) is None
        processed = super()._process_errors(errors)
        for error in processed:
            with_code(error)
            if anonymous and error.original_error is None:
                error.message = SUGGESTION.sub("", error.message)
        return processed
