"""The wire to each broker: memory:// (this process only), redis:// and postgres:// (LISTEN/NOTIFY).

A broker has a publishing side, shared by concurrent publishes, and a listening *session*: one
connection that is subscribed to channels and hands each message to `deliver(channel, text)`.
`listen()` returns or raises when the session is lost; the Bus (bus.py) then ends it and opens a
new one. Nothing here retries or reconnects by itself: redis-py's silent reconnection of a pub/sub
connection would hide the messages lost meanwhile, so it is turned off. Timeouts are the Bus's.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import Callable
from typing import Protocol

Deliver = Callable[[str, str], None]


class Broker(Protocol):
    async def publish(self, channel: str, text: str) -> None: ...
    async def ping(self) -> None: ...
    async def open_session(self, deliver: Deliver) -> None: ...
    async def listen(self) -> None: ...
    async def subscribe(self, channel: str) -> None: ...
    async def unsubscribe(self, channel: str) -> None: ...
    async def end_session(self) -> None: ...
    async def close(self) -> None: ...


def broker_for(url: str, timeout: float) -> Broker:
    scheme = url.split("://", 1)[0].lower()
    if scheme == "memory":
        return MemoryBroker()
    if scheme in ("redis", "rediss"):
        return RedisBroker(url, timeout)
    if scheme in ("postgres", "postgresql"):
        return PostgresBroker(url.replace("postgresql://", "postgres://", 1), timeout)
    raise ValueError(f"unsupported broker URL {url!r}")


class MemoryBroker:
    """One process: a publish is delivered at once; the session is never lost."""

    def __init__(self) -> None:
        self._deliver: Deliver | None = None

    async def publish(self, channel: str, text: str) -> None:
        if self._deliver is not None:
            self._deliver(channel, text)

    async def ping(self) -> None:
        pass

    async def open_session(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def listen(self) -> None:
        await asyncio.Future()  # forever

    async def subscribe(self, channel: str) -> None:
        pass

    async def unsubscribe(self, channel: str) -> None:
        pass

    async def end_session(self) -> None:
        pass

    async def close(self) -> None:
        self._deliver = None


class RedisBroker:
    """Publishes through a connection pool; listens on one pub/sub connection per session. A
    SUBSCRIBE returns once Redis has confirmed it, so a publish after it is delivered. A ping
    goes to both: a listening connection that died silently (no FIN: a dropped NAT entry, a
    frozen peer) answers no PING, and only its own PING can tell."""

    def __init__(self, url: str, timeout: float) -> None:
        self._url = url
        self._timeout = timeout
        self._publisher = self._client()
        self._session = None
        self._pubsub = None
        self._deliver: Deliver | None = None
        self._confirmations: dict[str, asyncio.Future] = {}
        self._pongs: deque[asyncio.Future] = deque()  # PINGs sent on the session, oldest first
        # Named so that an operator (or a test) can find this process's listening connection.
        self.session_name = f"stepwise-bus-{uuid.uuid4().hex[:12]}"

    def _client(self, **options):
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        return Redis.from_url(self._url, retry=Retry(NoBackoff(), 0), socket_connect_timeout=self._timeout, **options)

    async def publish(self, channel: str, text: str) -> None:
        await self._publisher.publish(channel, text)

    async def ping(self) -> None:
        await self._publisher.ping()
        if self._pubsub is not None:
            # The answer arrives through listen() like any pub/sub message (Redis replies in order).
            waiter = asyncio.get_running_loop().create_future()
            self._pongs.append(waiter)
            await self._pubsub.ping()
            await waiter

    async def open_session(self, deliver: Deliver) -> None:
        self._deliver = deliver
        self._confirmations = {}
        self._pongs = deque()
        self._session = self._client(client_name=self.session_name)
        self._pubsub = self._session.pubsub()
        await self._pubsub.connect()

    async def listen(self) -> None:
        pubsub = self._pubsub
        while True:
            message = await pubsub.get_message(timeout=None)
            if message is None:
                continue
            if message["type"] == "pong":  # no channel: the answer to ping()
                waiter = self._pongs.popleft() if self._pongs else None
                if waiter is not None and not waiter.done():  # done: that ping timed out already
                    waiter.set_result(None)
                continue
            kind, channel = message["type"], message["channel"].decode()
            if kind == "message":
                self._deliver(channel, message["data"].decode())
            elif kind == "subscribe":
                waiter = self._confirmations.pop(channel, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)

    async def subscribe(self, channel: str) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._confirmations[channel] = waiter
        await self._pubsub.subscribe(channel)
        await waiter  # the listening side resolves it when Redis confirms

    async def unsubscribe(self, channel: str) -> None:
        await self._pubsub.unsubscribe(channel)

    async def end_session(self) -> None:
        pubsub, session, self._pubsub, self._session = self._pubsub, self._session, None, None
        for closing in (pubsub, session):
            if closing is not None:
                try:
                    async with asyncio.timeout(self._timeout):
                        await closing.aclose()
                except Exception:  # noqa: BLE001 - a lost connection may fail to close: it is dropped anyway
                    pass

    async def close(self) -> None:
        await self.end_session()
        await self._publisher.aclose()


class PostgresBroker:
    """LISTEN/NOTIFY: notifies through a small pool (an asyncpg connection runs one statement at a
    time, so concurrent publishes need several), listens on one connection per session."""

    def __init__(self, url: str, timeout: float) -> None:
        self._url = url
        self._timeout = timeout
        self._pool = None
        self._connection = None
        self._lost: asyncio.Event | None = None
        self._deliver: Deliver | None = None
        self.session_name = f"stepwise-bus-{uuid.uuid4().hex[:12]}"

    async def _publisher(self):
        if self._pool is None:
            import asyncpg

            self._pool = await asyncpg.create_pool(self._url, min_size=0, max_size=4, timeout=self._timeout)
        return self._pool

    async def publish(self, channel: str, text: str) -> None:
        pool = await self._publisher()
        await pool.execute("SELECT pg_notify($1, $2)", channel, text)

    async def ping(self) -> None:
        pool = await self._publisher()
        await pool.fetchval("SELECT 1")
        if self._connection is not None:  # a listening connection that hangs is lost too
            await self._connection.fetchval("SELECT 1")

    async def open_session(self, deliver: Deliver) -> None:
        import asyncpg

        self._deliver = deliver
        # This session's own event: an older connection closing late must not end a newer session.
        lost = self._lost = asyncio.Event()
        self._connection = await asyncpg.connect(
            self._url, timeout=self._timeout, server_settings={"application_name": self.session_name})
        self._connection.add_termination_listener(lambda _connection: lost.set())

    def _on_notify(self, _connection, _pid, channel: str, payload: str) -> None:
        self._deliver(channel, payload)

    async def listen(self) -> None:
        await self._lost.wait()
        raise ConnectionError("the LISTEN connection was closed")

    async def subscribe(self, channel: str) -> None:
        await self._connection.add_listener(channel, self._on_notify)

    async def unsubscribe(self, channel: str) -> None:
        await self._connection.remove_listener(channel, self._on_notify)

    async def end_session(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.terminate()  # no goodbye: the server may be the thing that hangs

    async def close(self) -> None:
        await self.end_session()
        if self._pool is not None:
            self._pool.terminate()
