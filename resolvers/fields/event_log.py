"""Where the event logs stand, for `Campaign.eventCursor` and `Organization.eventCursor`.

A snapshot query and its cursor must agree: the cursor is read before the rest of the query's
data, so a change committed meanwhile is after it (and comes again on the stream) rather than
lost. A root field (`campaign(id)`, `organization(id)`) whose selection asks for `eventCursor`
reads the position first and keeps it in the operation's context for the field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stepwise.models.queries.event_log import log_position, organization_positions

if TYPE_CHECKING:
    from stepwise.schema.context import Info

def _selects_event_cursor(info: Info) -> bool:
    return any(getattr(s, "name", None) == "eventCursor" for field in info.selected_fields
               for s in getattr(field, "selections", ()))


async def read_position_first(info: Info, kind: str, pk: int) -> None:
    """Called by a root field before it loads anything: the position, if its selection needs it."""
    if _selects_event_cursor(info):
        position = await (log_position(pk) if kind == "Campaign" else organization_positions(pk))
        info.context.event_positions[(kind, pk)] = position


async def campaign_event_position(info: Info, campaign_id: int) -> int:
    """The seq of the campaign's latest event, as read first by the root field, else now."""
    kept = info.context.event_positions.get(("Campaign", campaign_id))
    return kept if kept is not None else await log_position(campaign_id)


async def organization_event_positions(info: Info, organization_id: int) -> dict[int, int]:
    """Each campaign of the organization with the seq of its latest event (as read first, else now)."""
    kept = info.context.event_positions.get(("Organization", organization_id))
    return kept if kept is not None else await organization_positions(organization_id)
