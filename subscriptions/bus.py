"""The event bus: broadcaster over memory:// (one process), redis:// or postgres:// (several).

Messages are JSON objects. broadcaster loses events when a subscribe starts while another is in
flight, and its PostgreSQL backend fails under concurrent publishes: one lock guards both.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from broadcaster import Broadcast

MAX_PENDING = 1_000


class Gap:
    """Yielded by a subscription in place of messages that were lost (the subscriber fell more than
    MAX_PENDING messages behind, or the broker connection was lost): the subscriber must catch up
    from the event log (subscriptions/stream.py), not from the bus."""

    def __repr__(self) -> str:
        return "GAP"


GAP = Gap()


class Bus:
    def __init__(self, url: str) -> None:
        self.url = url
        self._broadcast = Broadcast(url.replace("postgresql://", "postgres://", 1))
        self._lock = asyncio.Lock()

    async def connect(self) -> None:
        await self._broadcast.connect()

    async def disconnect(self) -> None:
        await self._broadcast.disconnect()

    async def publish(self, channel: str, message: dict) -> None:
        async with self._lock:
            await self._broadcast.publish(channel=channel, message=json.dumps(message))

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[dict]]:
        """Registered on the channel on entry; yields an async iterator of its messages (dicts, or
        GAP where messages were lost) and unsubscribes on exit. At most MAX_PENDING messages wait
        per subscriber: past that they are dropped and one GAP stands for them, so memory stays
        bounded whatever the subscriber's pace."""
        subscription = self._broadcast.subscribe(channel=channel)
        async with self._lock:
            subscriber = await subscription.__aenter__()
        pending: asyncio.Queue = asyncio.Queue()

        overflowed = False

        async def pump() -> None:
            nonlocal overflowed
            async for event in subscriber:
                if overflowed:
                    continue  # already lost: the GAP at the queue's end stands for these too
                if pending.qsize() >= MAX_PENDING - 1:
                    overflowed = True
                    pending.put_nowait(GAP)
                    continue
                pending.put_nowait(event.message)

        async def messages() -> AsyncIterator[dict | Gap]:
            nonlocal overflowed
            while True:
                item = await pending.get()
                if item is GAP:
                    overflowed = False
                    yield GAP
                else:
                    yield json.loads(item)

        pumping = asyncio.create_task(pump())
        try:
            yield messages()
        finally:
            pumping.cancel()
            await subscription.__aexit__(None, None, None)


@asynccontextmanager
async def open_bus(url: str) -> AsyncIterator[Bus]:
    """A connected bus for the lifetime of the block (a bad broker URL fails here, at start)."""
    bus = Bus(url)
    await bus.connect()
    try:
        yield bus
    finally:
        await bus.disconnect()
