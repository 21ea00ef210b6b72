"""Subscriptions run by the app's schema in this process (real database, the app's own bus, real
resolvers), read by the test at its own pace, so that it decides exactly where each subscriber
is and can count the statements an event costs."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack, aclosing
from types import SimpleNamespace

from stepwise.config import load_settings
from stepwise.models.db.accounts import User
from stepwise.permissions.access import Access
from stepwise.schema.app import build_schema
from stepwise.schema.context import Context
from stepwise.subscriptions.feeds import Feeds


class Subscribers:
    """Subscriptions sharing one set of campaign feeds, as the sockets of one server process do."""

    def __init__(self, api, settings_env, stack: AsyncExitStack) -> None:
        self.bus = api.app.state.bus
        self.feeds = Feeds(self.bus)
        self.schema = build_schema(load_settings(settings_env))
        self.stack = stack

    async def results(self, username: str, query: str, variables: dict, access: Access | None = None):
        """The subscription's results, read in the caller's task (closed with the stack)."""
        access = access or Access(await User.get(username=username))
        state = SimpleNamespace(bus=self.bus, feeds=self.feeds)
        context = Context(request=SimpleNamespace(state=state), response=None, settings=None,
                          access=access, request_id="test")
        results = await self.schema.subscribe(query, variable_values=variables, context_value=context)
        return await self.stack.enter_async_context(aclosing(results))

    async def operation(self, username: str, query: str, variables: dict, access: Access | None = None) -> Operation:
        """The subscription in a task of its own, as the websocket handlers run each operation."""
        operation = Operation(await self.results(username, query, variables, access))
        self.stack.push_async_callback(operation.close)
        return operation

    def feed(self, campaign_pk: int):
        return self.feeds._feeds[campaign_pk]


async def next_data(results) -> dict | None:
    """The next update's data, {"errors": [...]} if it failed, None if the subscription ended."""
    try:
        async with asyncio.timeout(10):  # in the caller's task (wait_for would start another)
            result = await anext(results)
    except StopAsyncIteration:
        return None
    if result.errors:
        return {"errors": [error.message for error in result.errors]}
    return next(iter(result.data.values()))


class Operation:
    """A subscription run in a task of its own for its whole life, as the websocket handlers run
    each operation (an operation's roles are kept per task: Access.per_operation); it reads one
    update each time it is asked to."""

    def __init__(self, results) -> None:
        self._asks, self._answers = asyncio.Queue(), asyncio.Queue()
        self._task = asyncio.create_task(self._run(results))

    async def _run(self, results) -> None:
        while True:
            await self._asks.get()
            await self._answers.put(await next_data(results))

    async def next(self) -> dict | None:
        await self._asks.put(None)
        return await asyncio.wait_for(self._answers.get(), 15)

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


def roles_reads(statements: list[str]) -> list[int]:
    """For each statement that reads users' roles, how many users it asks for (the ids of its
    first IN list; 1 for a read of one user's roles)."""
    reads = [s for s in statements if "FROM dataset_worker WHERE user_id" in s]
    return [s.split("IN (", 1)[1].split(")", 1)[0].count(",") + 1 if "IN (" in s else 1 for s in reads]
