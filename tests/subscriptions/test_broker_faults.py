"""Broker faults: a Redis (or PostgreSQL LISTEN) connection that is lost, restarted or hung.
Each process reconnects by itself, its subscribers get GAP, publishes never wait on a dead broker,
and /health says "degraded" meanwhile. A private redis-server is started (and killed) by the test."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import uuid
from contextlib import asynccontextmanager

import httpx
import pytest
from asgi_lifespan import LifespanManager
from redis.asyncio import Redis

from stepwise.app import create_app
from stepwise.config import load_settings
from stepwise.models.db.lifecycle import apply_migrations
from stepwise.subscriptions.bus import GAP, BrokerUnavailable, open_bus
from tests.conftest import SQLITE_SETTINGS, free_port, postgres_database

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
TIMEOUT = 0.3  # the buses' publish timeout in these tests (seconds)
WITHIN = 5.0  # generous bound: "did not hang", not a timing


class PrivateRedis:
    """A redis-server of this test's own, on a free port, that the test may kill and restart."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    async def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = Redis.from_url(self.url)
        try:
            for _ in range(200):
                try:
                    await client.ping()
                    return
                except Exception:  # noqa: BLE001 - not listening yet
                    await asyncio.sleep(0.02)
            raise RuntimeError("redis-server did not start")
        finally:
            await client.aclose()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def pause(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)


@pytest.fixture
async def private_redis():
    if not os.path.exists(REDIS_SERVER):
        pytest.skip("needs redis-server")
    redis = PrivateRedis()
    await redis.start()
    try:
        yield redis
    finally:
        redis.resume()
        redis.kill()


async def next_message(messages):
    return await asyncio.wait_for(messages.__anext__(), WITHIN)


async def next_after_gaps(messages):
    message = await next_message(messages)
    while message is GAP:
        message = await next_message(messages)
    return message


async def test_after_a_redis_restart_events_flow_again_and_subscribers_got_gap(private_redis, caplog):
    async with open_bus(private_redis.url, TIMEOUT) as a, open_bus(private_redis.url, TIMEOUT) as b:
        async with b.subscribe("campaign:1") as on_b, a.subscribe("campaign:1") as on_a:
            await a.publish("campaign:1", {"n": 1})
            assert await next_message(on_b) == {"n": 1}
            assert await next_message(on_a) == {"n": 1}

            private_redis.kill()
            await asyncio.wait_for(asyncio.gather(a.wait_until(up=False), b.wait_until(up=False)), WITHIN)
            # While it is down, a publish fails at once: the mutation goes on.
            with pytest.raises(BrokerUnavailable):
                await asyncio.wait_for(a.publish("campaign:1", {"n": "lost"}), WITHIN)

            await private_redis.start()
            await asyncio.wait_for(asyncio.gather(a.wait_until(up=True), b.wait_until(up=True)), 3 * WITHIN)
            assert await next_message(on_b) is GAP
            assert await next_message(on_a) is GAP
            await a.publish("campaign:1", {"n": 2})
            # Another GAP may come first: a's failed publish, announced once a is back (harmless).
            assert await next_after_gaps(on_b) == {"n": 2}
            assert await next_after_gaps(on_a) == {"n": 2}
        # A new subscriber after the restart is served too.
        async with b.subscribe("campaign:2") as fresh:
            await a.publish("campaign:2", {"n": 3})
            assert await next_message(fresh) == {"n": 3}
    lost = [r for r in caplog.records if r.name == "stepwise.bus" and "lost" in r.getMessage()]
    back = [r for r in caplog.records if r.name == "stepwise.bus" and "reconnected" in r.getMessage()]
    assert len(lost) == 2 and len(back) == 2  # once per bus, however many retries it took


async def test_a_hung_broker_never_holds_a_publish_beyond_the_timeout(private_redis):
    async with open_bus(private_redis.url, TIMEOUT) as a, open_bus(private_redis.url, TIMEOUT) as b:
        async with b.subscribe("campaign:1") as on_b:
            private_redis.pause()  # accepts connections, answers nothing
            # Concurrent publishes: none waits behind another (no lock), each gives up in time.
            results = await asyncio.wait_for(asyncio.gather(
                *(a.publish("campaign:1", {"n": n}) for n in range(5)), return_exceptions=True), WITHIN)
            assert all(isinstance(r, BrokerUnavailable) for r in results), results
            assert not a.up
            with pytest.raises(BrokerUnavailable):  # known lost: no wait at all
                await asyncio.wait_for(a.publish("campaign:1", {"n": 9}), WITHIN)
            private_redis.resume()
            await asyncio.wait_for(a.wait_until(up=True), 3 * WITHIN)
            # b's connection stayed open, but a lost publishes: a says so, b's subscribers catch up.
            # (A publish that timed out may still have reached Redis: delivered late, not wrong.)
            late = []
            while (message := await next_message(on_b)) is not GAP:
                late.append(message)
            assert all(m in [{"n": n} for n in range(5)] for m in late), late
            await a.publish("campaign:1", {"n": 10})
            assert await next_message(on_b) == {"n": 10}


async def test_a_killed_listening_connection_on_the_shared_redis_reconnects(redis_url):
    channel = f"test:{uuid.uuid4().hex}"  # Redis is shared with other test runs
    async with open_bus(redis_url, TIMEOUT) as a, open_bus(redis_url, TIMEOUT) as b:
        async with b.subscribe(channel) as on_b:
            admin = Redis.from_url(redis_url)
            try:
                clients = await admin.client_list()
                ids = [c["id"] for c in clients if c.get("name") == b._broker.session_name]
                assert len(ids) == 1
                await admin.execute_command("CLIENT", "KILL", "ID", ids[0])
            finally:
                await admin.aclose()
            assert await next_message(on_b) is GAP  # reconnected, and told to catch up
            await a.publish(channel, {"n": 1})
            assert await next_message(on_b) == {"n": 1}


@pytest.fixture
def redis_url():
    url = os.environ.get("STEPWISE_TEST_REDIS_URL")
    if not url:
        pytest.skip("needs STEPWISE_TEST_REDIS_URL")
    return url


@pytest.fixture
def postgres_url():
    with postgres_database() as url:  # skips without STEPWISE_TEST_POSTGRES_URL
        yield url


async def test_a_terminated_postgres_listen_connection_reconnects(postgres_url):
    import asyncpg

    async with open_bus(postgres_url, TIMEOUT) as a, open_bus(postgres_url, TIMEOUT) as b:
        async with b.subscribe("campaign:1") as on_b:
            await a.publish("campaign:1", {"n": 1})
            assert await next_message(on_b) == {"n": 1}
            admin = await asyncpg.connect(postgres_url.replace("postgres://", "postgresql://", 1))
            try:
                killed = await admin.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
                    b._broker.session_name)
            finally:
                await admin.close()
            assert killed == 1
            assert await next_message(on_b) is GAP
            await a.publish("campaign:1", {"n": 2})
            assert await next_message(on_b) == {"n": 2}


@asynccontextmanager
async def app_on(broker_url: str, tmp_path):
    env = {"STEPWISE_DATABASE_URL": f"sqlite://{tmp_path / 'stepwise.sqlite3'}", "STEPWISE_DATA_DIR": str(tmp_path),
           "STEPWISE_BROKER_URL": broker_url, "STEPWISE_BROKER_TIMEOUT_MS": str(int(TIMEOUT * 1000)), **SQLITE_SETTINGS}
    await apply_migrations(env["STEPWISE_DATABASE_URL"])
    app = create_app(load_settings(env))
    async with LifespanManager(app) as manager:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url="http://test") as client:
            yield app, client


async def test_health_is_degraded_while_the_broker_is_lost_then_ok(private_redis, tmp_path):
    async with app_on(private_redis.url, tmp_path) as (app, client):
        response = await client.get("/health")
        assert (response.status_code, response.json()) == (
            200, {"status": "ok", "database": "ok", "broker": "ok", "fanout": {"executions": 0, "deliveries": 0, "inStep": 0}})
        private_redis.kill()
        await asyncio.wait_for(app.state.bus.wait_until(up=False), WITHIN)
        response = await client.get("/health")
        assert response.status_code == 200
        assert response.json()["status"] == "degraded" and response.json()["broker"] == "lost"
        await private_redis.start()
        await asyncio.wait_for(app.state.bus.wait_until(up=True), 3 * WITHIN)
        assert (await client.get("/health")).json()["status"] == "ok"


class SilencingProxy:
    """A TCP relay in front of Redis that can make one connection go silent: its bytes are
    swallowed both ways while the socket stays open, as with a peer that vanished without a FIN."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.server: asyncio.Server | None = None
        self.connections: list[dict] = []

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return f"redis://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _relay(self, reader, writer) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        connection = {"sent": b"", "silent": False, "writers": (writer, upstream_writer)}
        self.connections.append(connection)

        async def pump(source, sink, from_client: bool) -> None:
            while data := await source.read(65536):
                if from_client:
                    connection["sent"] += data[:4096]
                if not connection["silent"]:
                    sink.write(data)

        await asyncio.gather(pump(reader, upstream_writer, True), pump(upstream_reader, writer, False),
                             return_exceptions=True)

    def silence(self, marker: str) -> int:
        """Silence the open connections that named themselves `marker`; how many."""
        matching = [c for c in self.connections if marker.encode() in c["sent"] and not c["silent"]]
        for connection in matching:
            connection["silent"] = True
        return len(matching)

    async def close(self) -> None:
        for connection in self.connections:
            for writer in connection["writers"]:
                writer.close()
        self.server.close()


async def test_a_listening_connection_gone_silent_is_noticed_by_a_ping_of_its_own(redis_url, monkeypatch):
    """The publisher's connections still answer: only a PING on the pub/sub connection itself
    tells that it hears nothing any more. The bus notices, reconnects, and gives GAP."""
    from stepwise.subscriptions import bus as bus_module

    monkeypatch.setattr(bus_module, "PING_INTERVAL_SECONDS", 0.2)
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    proxy = SilencingProxy(port)
    channel = f"test:{uuid.uuid4().hex}"
    try:
        async with open_bus(redis_url, TIMEOUT) as a, open_bus(await proxy.start(), TIMEOUT) as b:
            async with b.subscribe(channel) as on_b:
                await a.publish(channel, {"n": 0})
                assert await next_message(on_b) == {"n": 0}
                assert proxy.silence(b._broker.session_name) == 1
                await asyncio.wait_for(b.wait_until(False), WITHIN)  # noticed as lost
                assert await next_message(on_b) is GAP  # on a new connection, told to catch up
                await a.publish(channel, {"n": 1})
                assert await next_message(on_b) == {"n": 1}
    finally:
        await proxy.close()
