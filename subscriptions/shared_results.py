"""Shared executions: subscribers of a campaign stream that would receive the same message get
one execution of their selection and one serialized payload per event, sent to each in its own
envelope (its operation id; `next` on graphql-transport-ws, `data` on the legacy graphql-ws).

A group is (document, operation name, the variables the selection uses, the viewer's roles),
plus the viewer's id when what they would see could depend on who they are: a selection with a
viewer-specific field (VIEWER_FIELDS), or roles under which some rows are filtered per viewer
(a LABELER anywhere). The subscription's own arguments (`campaignId`, `after`) are left out:
they choose the events, not what an event shows, so a subscriber resuming with `after:` shares
the executions of whoever is at the same event.

Each member keeps its own position in the feed and is authorized on its own at every event,
by its resolver (subscriptions/fields.py) or, while it is in step, by the feed's send loop with
the same checks (subscriptions/send_loop.py); only then is the group's payload of that event
asked for (`deliver`, or `payload` then the member's own send). The execution is started by the first member to ask, with a snapshot of
that member's roles and loaders primed once per batch and group, and is not tied to it: a
member that leaves cancels only its own wait. Results are kept per feed in a small LRU (CACHE_RESULTS), so a slow
member that falls out of it executes again (same answer, rows as new or newer).

Used only over this server's websocket handlers (subscriptions/sockets.py set the delivery);
anything else (a LABELER's view, a test context) takes the per-subscriber path.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from graphql import FieldNode, FragmentDefinitionNode, OperationDefinitionNode, VariableNode, parse
from graphql.language import Visitor, visit
from strawberry.types.graphql import OperationType

from stepwise.permissions import visibility
from stepwise.subscriptions.shared_futures import shared_result

CACHE_RESULTS = 1024  # serialized payloads kept per campaign feed
CACHE_LOADERS = 16  # primed loaders kept per campaign feed, by (batch, group)
# Fields whose answer depends on who asks, not only on their roles (resolvers/fields/accounts.py,
# event_log.py): a selection with one of them is shared only among one viewer's subscriptions.
VIEWER_FIELDS = frozenset({"email", "eventCursor", "campaigns"})


@dataclass
class FanoutStats:
    """Process-wide counts since start, reported by /health: executions run for groups, and
    payloads handed to sockets from them (deliveries / executions is the sharing achieved); and
    events a feed's send loop handled for a member in step, without waking its resolver
    (subscriptions/send_loop.py: sent, or not one the member hears)."""

    executions: int = 0
    deliveries: int = 0
    in_step: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"executions": self.executions, "deliveries": self.deliveries, "inStep": self.in_step}


@dataclass(frozen=True)
class Delivery:
    """One subscriber's operation as its socket handler runs it: the document to execute, and
    how to send it a payload (the envelope around the payload's JSON)."""

    schema: Any
    query: str
    variables: dict | None
    operation_name: str | None
    envelope: str  # the message up to the payload: '{"type":"next","id":"1","payload":'
    send_text: Callable[[str], Awaitable[None]]
    encode: Callable[[object], str] = field(default=json.dumps)
    # The member's last (roles, group): its group changes only with its roles (group_key).
    last_group: list = field(default_factory=lambda: [None, None], compare=False, hash=False)

    async def send(self, payload: str, stats: FanoutStats) -> None:
        stats.deliveries += 1
        await self.send_text(f"{self.envelope}{payload}}}")


_delivery: ContextVar[Delivery | None] = ContextVar("stepwise_delivery", default=None)


@contextmanager
def delivering(delivery: Delivery) -> Iterator[None]:
    """Around a websocket operation's task: its resolver finds how to send shared payloads."""
    token = _delivery.set(delivery)
    try:
        yield
    finally:
        _delivery.reset(token)


def current_delivery() -> Delivery | None:
    return _delivery.get()


class _Shape(NamedTuple):
    variables: frozenset[str] | None  # the variables the selection uses (None: take them all)
    viewer_specific: bool


@functools.lru_cache(maxsize=256)
def _shape(query: str, operation_name: str | None) -> _Shape:
    """What of the document decides an event's answer. It was validated before the resolver
    ran, so it parses; anything unexpected counts every variable."""
    document = parse(query)
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in operations if operation_name is None or (o.name and o.name.value == operation_name)]
    roots = chosen[0].selection_set.selections if chosen else ()
    if len(roots) != 1 or not isinstance(roots[0], FieldNode):
        return _Shape(None, True)
    parts = [roots[0].selection_set, *(roots[0].directives or ())]
    parts += [d for d in document.definitions if isinstance(d, FragmentDefinitionNode)]
    seen = _Seen()
    for part in parts:
        if part is not None:
            visit(part, seen)
    return _Shape(frozenset(seen.variables), bool(seen.fields & VIEWER_FIELDS))


class _Seen(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.variables: set[str] = set()
        self.fields: set[str] = set()

    def enter_variable(self, node: VariableNode, *_) -> None:
        self.variables.add(node.name.value)

    def enter_field(self, node: FieldNode, *_) -> None:
        self.fields.add(node.name.value)


def group_key(delivery: Delivery, access) -> tuple | None:
    """The group of this member for its event, or None when its roles are not loaded. Kept per
    member and made again only when its viewer or roles differ from the last event's (its
    document and variables are the operation's own)."""
    roles = access.roles_key()
    if roles is None:
        return None
    seen = (access.require_viewer().id, roles)
    cached_seen, cached = delivery.last_group
    if cached is not None and cached_seen == seen:
        return cached
    group = _group_of(delivery, access, roles)
    delivery.last_group[:] = (seen, group)
    return group


def _group_of(delivery: Delivery, access, roles: tuple) -> tuple:
    shape = _shape(delivery.query, delivery.operation_name)
    variables = delivery.variables or {}
    used = variables if shape.variables is None else {k: v for k, v in variables.items() if k in shape.variables}
    per_viewer = shape.viewer_specific or not all(visibility.sees_every_task(role) for _, role in roles[1])
    viewer = access.require_viewer().id if per_viewer else None
    return (delivery.query, delivery.operation_name, json.dumps(used, sort_keys=True, default=str), roles, viewer)


class _RootInfo(NamedTuple):
    """What building an event's root object reads of `info`: the context (loaders, access)."""

    context: Any


class SharedResults:
    """A campaign feed's payloads, by (event seq, group)."""

    def __init__(self, stats: FanoutStats) -> None:
        self.stats = stats
        self._results: OrderedDict[tuple, asyncio.Future] = OrderedDict()
        self._loaders: OrderedDict[tuple, asyncio.Future] = OrderedDict()

    async def deliver(self, delivery: Delivery, info, batch: list[dict], seq: int,
                      build: Callable[[Any], Awaitable[object | None]], loaders: Callable[[], Awaitable[Any]]) -> None:
        """Send this member the group's payload for the event `seq` of `batch`, executing it if
        nobody of the group has: `loaders()` primes fresh loaders for the batch (once per batch
        and group, as a subscriber used to once per batch), then `build(info)` makes the event's
        root object (None: nothing to send)."""
        payload = await self.payload(delivery, info.context, info.context.access, batch, seq, build, loaders)
        if payload is not None:
            await delivery.send(payload, self.stats)

    async def payload(self, delivery: Delivery, context, access, batch: list[dict], seq: int,
                      build: Callable[[Any], Awaitable[object | None]], loaders: Callable[[], Awaitable[Any]]) -> str | None:
        """The group's serialized payload for the event `seq` (None: nothing to send), the member
        being `delivery` with the roles `access` holds (deliver above, or the send loop's)."""
        group = group_key(delivery, access)
        if group is None:
            raise RuntimeError("shared delivery before the viewer's roles were loaded")
        key = (seq, group)
        result = self._results.get(key)
        if result is None:
            context = replace(context, access=access.snapshot())  # its roles now
            batch_key = (batch[0]["seq"], batch[-1]["seq"], group)
            result = self._results[key] = asyncio.ensure_future(self._execute(delivery, context, build, batch_key, loaders))
            result.add_done_callback(lambda done: self._forget_if_failed(key, done))
            while len(self._results) > CACHE_RESULTS:
                self._results.popitem(last=False)  # whoever awaits it holds its own reference
        else:
            self._results.move_to_end(key)
        return await shared_result(result)

    async def _execute(self, delivery: Delivery, context, build, batch_key: tuple, loaders) -> str | None:
        primed = self._loaders.get(batch_key)
        if primed is None or primed.cancelled() or (primed.done() and primed.exception() is not None):
            primed = self._loaders[batch_key] = asyncio.ensure_future(loaders())
            while len(self._loaders) > CACHE_LOADERS:
                self._loaders.popitem(last=False)
        context.loaders = await asyncio.shield(primed)
        root = await build(_RootInfo(context))
        if root is None:
            return None
        return await serialized(delivery, context, root, self.stats)

    def _forget_if_failed(self, key: tuple, result: asyncio.Future) -> None:
        if (result.cancelled() or result.exception() is not None) and self._results.get(key) is result:
            del self._results[key]


async def serialized(delivery: Delivery, context, root, stats: FanoutStats) -> str:
    """One execution of the delivery's document on `root` (an event's root object), serialized
    as strawberry's handlers shape a payload; counted as one execution."""
    stats.executions += 1
    result = await delivery.schema.execute(
        delivery.query, delivery.variables, context_value=context, root_value=root,
        operation_name=delivery.operation_name, allowed_operation_types=(OperationType.SUBSCRIPTION,),
    )
    payload: dict[str, object] = {"data": result.data}
    if result.errors:
        payload["errors"] = [error.formatted for error in result.errors]
    if result.extensions:
        payload["extensions"] = result.extensions
    return delivery.encode(payload)
