"""The event bus delivers JSON messages to subscribers: in memory, and across processes via Redis."""

import asyncio
import os

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from stepwise.subscriptions.bus import GAP, MAX_PENDING, open_bus

IN_CI = os.environ.get("CI") == "true"


def broker_url(kind: str) -> str:
    if kind == "memory":
        return "memory://"
    url = os.environ.get("STEPWISE_TEST_REDIS_URL")
    if not url:
        if IN_CI:
            pytest.fail("STEPWISE_TEST_REDIS_URL must be set in CI")
        pytest.skip("Redis tests need STEPWISE_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379)")
    return url


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_subscribers_receive_what_is_published_after_they_subscribed(kind):
    async with open_bus(broker_url(kind)) as bus:
        async with bus.subscribe("campaign:1") as first, bus.subscribe("campaign:1") as second:
            await bus.publish("campaign:1", {"kind": "SUBMITTED", "task": 7})
            await bus.publish("campaign:2", {"kind": "other channel"})
            got = await asyncio.wait_for(first.__anext__(), 5), await asyncio.wait_for(second.__anext__(), 5)
    assert got == ({"kind": "SUBMITTED", "task": 7},) * 2


async def test_redis_carries_events_between_two_separate_buses():
    url = broker_url("redis")
    async with open_bus(url) as publisher_side, open_bus(url) as subscriber_side:
        async with subscriber_side.subscribe("org:9") as events:  # entered once Redis confirmed it
            await publisher_side.publish("org:9", {"n": 1})
            assert await asyncio.wait_for(events.__anext__(), 5) == {"n": 1}


async def test_a_bad_broker_url_fails_at_start():
    with pytest.raises(RedisConnectionError):
        async with open_bus("redis://127.0.0.1:1"):
            pass


async def test_a_subscriber_that_falls_behind_gets_one_gap_in_place_of_the_lost_messages():
    async with open_bus("memory://") as bus:
        async with bus.subscribe("campaign:1") as messages:
            for n in range(MAX_PENDING + 50):
                await bus.publish("campaign:1", {"n": n})
            received = [await asyncio.wait_for(messages.__anext__(), 5) for _ in range(MAX_PENDING)]
            await bus.publish("campaign:1", {"n": "after"})
            after_gap = await asyncio.wait_for(messages.__anext__(), 5)
    assert received[:-1] == [{"n": n} for n in range(MAX_PENDING - 1)]
    assert received[-1] is GAP  # the 51 messages that did not fit
    assert after_gap == {"n": "after"}  # then delivery goes on


async def test_closing_never_hangs_whatever_the_bus_was_doing(monkeypatch):
    """The watchdog pings in a loop; a cancellation landing as a ping finishes must still stop it
    (asyncio.wait_for on Python 3.11 could swallow it: a lifespan shutdown then hung)."""
    from stepwise.subscriptions import bus as bus_module

    monkeypatch.setattr(bus_module, "PING_INTERVAL_SECONDS", 0)
    for round in range(200):
        bus = bus_module.Bus("memory://")
        await bus.connect()
        for _ in range(round % 7):
            await asyncio.sleep(0)
        await asyncio.wait_for(bus.disconnect(), 5)
