"""The send loop: a live event that comes in step on the bus is delivered by the campaign feed's
pump to every subscriber parked in step, instead of waking one resolver task per subscriber.

A subscriber that has read everything the feed knows of parks (CampaignFeed.batches, with an
InStep): its resolver waits on one future and keeps its position here. When the next event comes
in step, the pump calls each parked member's `deliver` for it, in the order they parked, with
the viewer's roles as read after the event committed (the feed's read ahead, one per user and
event). `deliver` does what the member's resolver would: check the role, the visibility, take
the group's one shared payload (shared_results.py), send it in the member's envelope. Its answer:
- HANDLED: sent, or nothing for this member (not an event it hears): its position moves on;
- HAND_BACK: anything unusual (roles not read ahead, the role gone, a per-viewer view, no
  payload, an error): its resolver wakes at this very event and handles it the usual way;
- an awaitable: the send had to wait (the socket's write buffer is full): the position moves
  on, and the member's resolver wakes, finishes that send itself and goes on at its own pace.
So one slow socket never holds the loop, and a member's events still go out once, in order.

Members behind the feed (after `after:`, a range, a lost message) are woken too: they read their
pages from the log as before, then park again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any

from stepwise.permissions.access import Access

if TYPE_CHECKING:
    from stepwise.subscriptions.feeds import CampaignFeed

logger = logging.getLogger("stepwise.feeds")

HANDLED, HAND_BACK = "handled", "hand back"
Deliver = Callable[["CampaignFeed", dict, Access], Awaitable[Any]]


class InStep:
    """One subscriber as the feed's send loop knows it: who it is, how an event reaches it, its
    position while parked, and the future its resolver waits on."""

    def __init__(self, viewer, deliver: Deliver) -> None:
        self.viewer = viewer
        self.deliver = deliver
        self.position = 0
        self.wake = None  # the parked resolver's future; None while it runs
        self.unfinished_send: Awaitable | None = None  # a send the loop started that had to wait


async def park(feed: CampaignFeed, member: InStep, position: int) -> int:
    """Wait in the feed's loop from `position` until the member is handed back; its position then."""
    member.position = position
    member.wake = asyncio.get_running_loop().create_future()
    feed.parked[member] = None
    try:
        await member.wake
        if member.unfinished_send is not None:
            send, member.unfinished_send = member.unfinished_send, None
            await send
    finally:
        feed.parked.pop(member, None)
        member.wake = None
        if member.unfinished_send is not None:  # cancelled before it could finish it: drop it
            member.unfinished_send.close()
            member.unfinished_send = None
    return member.position


def hand_back(feed: CampaignFeed, member: InStep) -> None:
    feed.parked.pop(member, None)
    if member.wake is not None and not member.wake.done():
        member.wake.set_result(None)


def wake_the_members_behind(feed: CampaignFeed) -> None:
    """After the feed learned of events: whoever is parked before them reads them on its own."""
    for member in [m for m in feed.parked if m.position < feed.known]:
        hand_back(feed, member)


async def send_in_step(feed: CampaignFeed, message: dict) -> None:
    """Deliver the live event `message` to every member parked right before it. Never raises
    (but for cancellation): a member it fails for is handed back."""
    seq = message["seq"]
    members = [(m, m.wake) for m, _ in feed.parked.items() if m.position == seq - 1]
    accesses: dict[int, Access | None] = {}  # one per user and event, with the roles read ahead
    for member, wake in members:
        if member.wake is not wake or member not in feed.parked:
            continue  # left, or handed back, while the loop awaited an execution
        user_id = member.viewer.id
        if user_id not in accesses:
            rows = feed.roles_read_ahead(user_id, seq)
            accesses[user_id] = None if rows is None else Access(member.viewer, roles=rows)
        access = accesses[user_id]
        outcome = HAND_BACK
        if access is not None:
            try:
                outcome = await member.deliver(feed, message, access)
            except asyncio.CancelledError:
                if asyncio.current_task().cancelling():
                    raise  # the feed stops
                # A shared read or execution it waited on was cancelled: not a reason to stop the pump.
            except Exception:  # noqa: BLE001 - its resolver meets the same event, and the error, itself
                logger.debug("campaign %s: event %s handed back after an error", feed.campaign_id, seq, exc_info=True)
        if outcome == HAND_BACK:
            hand_back(feed, member)
            continue
        member.position = seq
        feed.results.stats.in_step += 1
        if outcome != HANDLED:  # a send that waits: its resolver finishes it
            member.unfinished_send = outcome
            hand_back(feed, member)


def send_until_it_waits(send: Coroutine) -> UnfinishedSend | None:
    """Run `send` now, in the current task: None once it is done, or, when it has to wait (a
    full write buffer), what is left of it, to be awaited by whichever task goes on with it."""
    try:
        waiting_on = send.send(None)
    except StopIteration:
        return None
    return UnfinishedSend(send, waiting_on)


class UnfinishedSend:
    """A coroutine stopped at its first wait, resumed by the task that awaits this: that task
    waits on the same future, then drives the coroutine on, as if it had run it from the start."""

    def __init__(self, coroutine: Coroutine, waiting_on: Any) -> None:
        self._coroutine, self._waiting_on = coroutine, waiting_on

    def __await__(self) -> Generator[Any, None, Any]:
        waiting_on = self._waiting_on
        while True:
            thrown = None
            try:
                yield waiting_on
            except BaseException as error:  # cancelled (or anything else thrown in) while it waits
                thrown = error
            try:
                waiting_on = self._coroutine.send(None) if thrown is None else self._coroutine.throw(thrown)
            except StopIteration as done:
                return done.value

    def close(self) -> None:
        self._coroutine.close()
