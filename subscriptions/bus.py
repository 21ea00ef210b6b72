"""The event bus: memory:// (one process), redis:// or postgres:// (several); wires in brokers.py.

Messages are JSON objects. Each process keeps its own subscribers per channel and holds one
broker subscription per channel, whatever the number of local subscribers.

Broker faults: when the listening connection is lost (or a ping, subscribe or publish fails or
times out), the bus logs it once, reconnects with backoff, subscribes its channels again, logs
the recovery once and gives every local subscriber GAP: what was published meanwhile never
reached this process. A publish that could not be sent means other processes missed it too: after
recovery, the bus says so on CONTROL_CHANNEL and every other process's subscribers get GAP.
A publish waits at most `timeout` seconds, and not at all while the broker is known lost.

Only SUBSCRIBE/UNSUBSCRIBE/ping on the listening connection are serialised (one lock): they are
one connection's commands, and a channel's subscribe must not overtake its unsubscribe. A local
subscriber is registered before anything is awaited, so two subscribes to one channel never race.
Publishes take no lock.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from stepwise.subscriptions.brokers import broker_for

logger = logging.getLogger("stepwise.bus")

MAX_PENDING = 1_000
DEFAULT_TIMEOUT_SECONDS = 1.0
PING_INTERVAL_SECONDS = 5.0
BACKOFF_FIRST_SECONDS = 0.1
BACKOFF_MAX_SECONDS = 5.0
CONTROL_CHANNEL = "stepwise:bus"  # "gap <bus id>": that process could not publish something


class Gap:
    """Yielded by a subscription in place of messages that were lost (the subscriber fell more than
    MAX_PENDING messages behind, or the broker connection was lost): the subscriber must catch up
    from the event log (subscriptions/stream.py), not from the bus."""

    def __repr__(self) -> str:
        return "GAP"


GAP = Gap()


class BrokerUnavailable(Exception):
    """A publish was not sent: the broker is lost or did not answer in time (already logged)."""


class _Inbox:
    """One subscriber's pending messages: at most MAX_PENDING, then one GAP stands for the rest."""

    def __init__(self) -> None:
        self._items: deque[str | Gap] = deque()
        self._ready = asyncio.Event()
        self._dropping = False

    def put(self, item: str | Gap) -> None:
        if self._dropping:
            return  # already lost: the GAP at the queue's end stands for this too
        if item is GAP and self._items and self._items[-1] is GAP:
            return
        if len(self._items) >= MAX_PENDING - 1:
            self._dropping = True
            item = GAP
        self._items.append(item)
        self._ready.set()

    async def messages(self) -> AsyncIterator[dict | Gap]:
        while True:
            while not self._items:
                self._ready.clear()
                await self._ready.wait()
            item = self._items.popleft()
            if item is GAP:
                if not self._items:  # the overflow GAP is always last
                    self._dropping = False
                yield GAP
            else:
                yield json.loads(item)


class Bus:
    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.url = url
        self.timeout = timeout
        self.id = uuid.uuid4().hex
        self._broker = broker_for(url, timeout)
        self._inboxes: dict[str, set[_Inbox]] = {}
        self._subscribed: set[str] = set()  # channels the live session is subscribed to
        self._control = asyncio.Lock()
        self._up = asyncio.Event()
        self._down = asyncio.Event()
        self._abort = asyncio.Event()
        self._lost_at: float | None = None
        self._publish_failed = False
        self._supervisor: asyncio.Task | None = None
        self._listening: asyncio.Task | None = None

    @property
    def up(self) -> bool:
        return self._up.is_set()

    def status(self) -> dict:
        """For /health: "ok", or "lost" with for how long."""
        if self.up:
            return {"broker": "ok"}
        lost_for = time.monotonic() - self._lost_at if self._lost_at is not None else 0.0
        return {"broker": "lost", "broker_lost_seconds": round(lost_for, 1)}

    async def wait_until(self, up: bool) -> None:
        """Until the broker is up (or lost): for tests and diagnostics."""
        await (self._up if up else self._down).wait()

    async def connect(self) -> None:
        """The first connection must succeed: a bad broker URL fails the start."""
        try:
            await self._open_session()
        except BaseException:
            await self._end_session()
            await self._broker.close()
            raise
        self._set_up()
        self._supervisor = asyncio.create_task(self._supervise())

    async def disconnect(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            try:
                await self._supervisor
            except asyncio.CancelledError:
                pass
        await self._end_session()
        await self._broker.close()

    async def publish(self, channel: str, message: dict) -> None:
        """Raises BrokerUnavailable, at once while the broker is lost, else within `timeout`."""
        if not self.up:
            self._publish_failed = True
            raise BrokerUnavailable("the broker is lost: reconnecting")
        try:
            await self._within(self._broker.publish(channel, json.dumps(message)))
        except Exception as error:
            self._publish_failed = True
            self._lose(error)
            raise BrokerUnavailable(f"could not publish: {error!r}") from None

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[dict | Gap]]:
        """Registered on the channel on entry; yields an async iterator of its messages (dicts, or
        GAP where messages were lost) and unsubscribes on exit. At most MAX_PENDING messages wait
        per subscriber: past that they are dropped and one GAP stands for them, so memory stays
        bounded whatever the subscriber's pace. While the broker is lost the subscription is
        registered here only, and gets GAP once the broker is back."""
        inbox = _Inbox()
        self._inboxes.setdefault(channel, set()).add(inbox)
        try:
            if channel not in self._subscribed:
                await self._sync_channel(channel)
            yield inbox.messages()
        finally:
            inboxes = self._inboxes.get(channel)
            if inboxes is not None:
                inboxes.discard(inbox)
                if not inboxes:
                    del self._inboxes[channel]
                    await self._sync_channel(channel)

    # --- inside -------------------------------------------------------------------------------

    async def _within(self, awaitable):
        """`awaitable`, or TimeoutError after `timeout`. Not asyncio.wait_for: on Python 3.11 it
        can swallow a cancellation that arrives as the awaited call finishes, and a loop of pings
        would then never stop (seen as a hung shutdown)."""
        async with asyncio.timeout(self.timeout):
            return await awaitable

    def _deliver(self, channel: str, text: str) -> None:
        if channel == CONTROL_CHANNEL:
            if text.startswith("gap ") and text[4:] != self.id:
                self._gap_everyone()
            return
        for inbox in self._inboxes.get(channel, ()):
            inbox.put(text)

    def _gap_everyone(self) -> None:
        for inboxes in self._inboxes.values():
            for inbox in inboxes:
                inbox.put(GAP)

    async def _sync_channel(self, channel: str) -> None:
        """Make the live session subscribed to `channel` exactly when it has local subscribers.
        A failure means the session is in doubt: it is dropped and the supervisor reconnects."""
        async with self._control:
            if not self.up:
                return  # the next session subscribes every channel that has subscribers
            wanted = channel in self._inboxes
            if wanted == (channel in self._subscribed):
                return
            try:
                if wanted:
                    await self._within(self._broker.subscribe(channel))
                    self._subscribed.add(channel)
                else:
                    self._subscribed.discard(channel)
                    await self._within(self._broker.unsubscribe(channel))
            except Exception as error:  # noqa: BLE001 - any failure: reconnect
                self._lose(error)

    async def _open_session(self) -> None:
        self._subscribed = set()
        await self._within(self._broker.open_session(self._deliver))
        # Listening from the start: it is what receives the confirmations of the subscribes below.
        self._listening = asyncio.create_task(self._broker.listen())
        await self._within(self._broker.ping())
        async with self._control:
            for channel in (CONTROL_CHANNEL, *self._inboxes):
                await self._within(self._broker.subscribe(channel))
                self._subscribed.add(channel)
            # Subscribers that arrived meanwhile registered here only (the bus was not up).
            while missing := set(self._inboxes) - self._subscribed:
                for channel in missing:
                    await self._within(self._broker.subscribe(channel))
                    self._subscribed.add(channel)

    async def _end_session(self) -> None:
        listening, self._listening = self._listening, None
        if listening is not None:
            listening.cancel()
            await asyncio.gather(listening, return_exceptions=True)
        await self._broker.end_session()

    def _set_up(self) -> None:
        self._abort.clear()
        self._down.clear()
        self._up.set()

    def _lose(self, error: BaseException | None) -> None:
        """Mark the broker lost (logged once per outage) and drop the session."""
        self._abort.set()
        if not self.up:
            return
        self._up.clear()
        self._down.set()
        self._lost_at = time.monotonic()
        logger.warning("broker %s lost (%s): publishes are dropped, reconnecting with backoff",
                       _safe(self.url), error or "connection closed")

    async def _supervise(self) -> None:
        while True:
            try:
                await self._run_session()
                error = None
            except Exception as failure:  # noqa: BLE001 - whatever broke the session, reconnect
                error = failure
            self._lose(error)
            await self._end_session()
            await self._reconnect()

    async def _run_session(self) -> None:
        """Until the session is lost: listening fails, a ping fails, or someone aborts it."""
        listening = self._listening
        watching = asyncio.create_task(self._watch())
        aborted = asyncio.create_task(self._abort.wait())
        try:
            done, _ = await asyncio.wait({listening, watching, aborted}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # raises what broke it
        finally:
            for task in (watching, aborted):  # listening ends with the session (_end_session)
                task.cancel()
            await asyncio.gather(watching, aborted, return_exceptions=True)

    async def _watch(self) -> None:
        """A broker that hangs closes nothing: ping it."""
        while True:
            await asyncio.sleep(PING_INTERVAL_SECONDS)
            async with self._control:
                await self._within(self._broker.ping())

    async def _reconnect(self) -> None:
        delay = BACKOFF_FIRST_SECONDS
        while True:
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))  # jitter: processes do not all retry at once
            try:
                await self._open_session()
                break
            except Exception as error:  # noqa: BLE001 - still lost: try again later
                logger.debug("broker %s still unreachable: %r", _safe(self.url), error)
                await self._end_session()
                delay = min(delay * 2, BACKOFF_MAX_SECONDS)
        lost_for = time.monotonic() - (self._lost_at or time.monotonic())
        self._set_up()
        logger.warning("broker %s reconnected after %.1f s: subscribers catch up from the database",
                       _safe(self.url), lost_for)
        self._gap_everyone()
        if self._publish_failed:
            try:
                await self._within(self._broker.publish(CONTROL_CHANNEL, f"gap {self.id}"))
                self._publish_failed = False
            except Exception as error:  # noqa: BLE001 - lost again: the next recovery says it
                self._lose(error)


def _safe(url: str) -> str:
    """The URL without its password, for logs."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}" if "@" in rest else url


async def until_registered(registered: asyncio.Event, pump: asyncio.Task) -> None:
    """Until `pump`, a task that subscribes to the bus and then follows it, has registered (it
    sets `registered`), or has failed to: then its error is raised here."""
    waiting = asyncio.ensure_future(registered.wait())
    try:
        await asyncio.wait([waiting, pump], return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiting.cancel()  # not left pending when the pump failed or the caller left
    if pump.done():
        pump.result()


@asynccontextmanager
async def open_bus(url: str, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> AsyncIterator[Bus]:
    """A connected bus for the lifetime of the block (a bad broker URL fails here, at start)."""
    bus = Bus(url, timeout)
    await bus.connect()
    try:
        yield bus
    finally:
        await bus.disconnect()
