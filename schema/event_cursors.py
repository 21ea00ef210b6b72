"""Cursors into the event logs: opaque strings that `after:` of the update subscriptions takes.

A campaign cursor is one position in one campaign's log. An organization cursor (for
myTaskUpdates, which follows every campaign of an organization) is a position in each of them:
a campaign it does not name is read from its start (it had no event when the cursor was made).
"""

from __future__ import annotations

import base64
import binascii
import re

from stepwise.models.errors import BadRequest

_CAMPAIGN = re.compile(r"log:c(\d{1,18}):(\d{1,18})")
_ORGANIZATION = re.compile(r"log:o(\d{1,18}):((?:\d{1,18}\.\d{1,18}(?:,\d{1,18}\.\d{1,18})*)?)")


def _encode(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ""


def campaign_cursor(campaign_id: int, seq: int) -> str:
    return _encode(f"log:c{campaign_id}:{seq}")


def organization_cursor(organization_id: int, positions: dict[int, int]) -> str:
    named = ",".join(f"{c}.{s}" for c, s in sorted(positions.items()) if s)
    return _encode(f"log:o{organization_id}:{named}")


def decode_campaign_cursor(cursor: str, campaign_id: int) -> int:
    """The seq after which to resume this campaign's log; BAD_REQUEST for anything else."""
    match = _CAMPAIGN.fullmatch(_decode(cursor))
    if match is None or int(match[1]) != campaign_id:
        raise BadRequest("`after` is not a cursor of this campaign's updates: pass a `cursor` or "
                         "`Campaign.eventCursor` you received for it.")
    return int(match[2])


def decode_organization_cursor(cursor: str, organization_id: int) -> dict[int, int]:
    """The position in each campaign log that the cursor names; BAD_REQUEST for anything else."""
    match = _ORGANIZATION.fullmatch(_decode(cursor))
    if match is None or int(match[1]) != organization_id:
        raise BadRequest("`after` is not a cursor of this organization's updates: pass a `cursor` of "
                         "myTaskUpdates or `Organization.eventCursor` you received for it.")
    pairs = [pair.split(".") for pair in match[2].split(",") if pair]
    return {int(c): int(s) for c, s in pairs}
