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
        """Yields an async iterator of the channel's messages; unsubscribes on exit."""
        subscription = self._broadcast.subscribe(channel=channel)
        async with self._lock:
            subscriber = await subscription.__aenter__()
        try:
            yield (json.loads(event.message) async for event in subscriber)
        finally:
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
