"""Where the event logs stand, for `Campaign.eventCursor` and `Organization.eventCursor`.

A snapshot query and its cursor must agree: the cursor is read before the rest of the query's
data, so a change committed meanwhile is after it (and comes again on the stream) rather than
lost. A root field (`campaign(id)`, `organization(id)`) whose selection asks for `eventCursor`
reads the position first and hands it to the object it returns; reached any other way (a nested
path), the field reads the position when it resolves. The position travels with the object of
this operation, never in the context: a websocket's context outlives its operations, and a kept
position would come back stale to a later query on the same socket.

The organization's position names only the campaigns where the viewer can have tasks (those
myTaskUpdates follows): nothing about the others, and a size that grows with the viewer's work,
not with the organization.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stepwise.models.queries.event_log import log_position, worker_positions

if TYPE_CHECKING:
    from stepwise.schema.context import Info


def _selects_event_cursor(info: Info) -> bool:
    return any(getattr(s, "name", None) == "eventCursor" for field in info.selected_fields
               for s in getattr(field, "selections", ()))


async def read_position_first(info: Info, kind: str, pk: int) -> int | dict[int, int] | None:
    """Called by a root field before it loads anything: the position, if its selection needs it."""
    if not _selects_event_cursor(info):
        return None
    if kind == "Campaign":
        return await log_position(pk)
    return await worker_positions(pk, info.context.access.require_viewer().id)


async def campaign_event_position(campaign_id: int, kept: int | None) -> int:
    """The seq of the campaign's latest event, as read first by the root field, else now."""
    return kept if kept is not None else await log_position(campaign_id)


async def organization_event_positions(info: Info, organization_id: int, kept: dict[int, int] | None) -> dict[int, int]:
    """The viewer's campaigns of the organization with the seq of their latest event (as read
    first by the root field, else now)."""
    if kept is not None:
        return kept
    return await worker_positions(organization_id, info.context.access.require_viewer().id)
