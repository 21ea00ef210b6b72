"""Turning a refused action into a payload: the business-rule channel of errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry

from stepwise.models.errors import DomainError
from stepwise.schema.types.common import UserError

P = TypeVar("P")
INPUT = strawberry.argument(description="What to change; see the input type.")


async def payload_of(payload: type[P], run: Callable[[], Awaitable[P]]) -> P:
    """`run()`'s payload, or `payload(errors=[...])` when a business rule refused the change."""
    try:
        return await run()
    except DomainError as error:
        return payload(errors=[UserError.from_domain(error)])
