"""Awaiting a read or an execution that several subscribers share."""

from __future__ import annotations

import asyncio


async def shared_result(future: asyncio.Future):
    """The future's result. One already done is taken as is (the common case, a live event whose
    read is over: no shield to build per subscriber); otherwise it is awaited under a shield, so
    that a subscriber that leaves does not cancel it for the others."""
    if future.done() and not future.cancelled() and future.exception() is None:
        return future.result()
    return await asyncio.shield(future)
