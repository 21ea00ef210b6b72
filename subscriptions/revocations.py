"""Websockets closed when the token they were opened with is revoked (logOut), in every process.

Each process keeps its open sockets by token digest. logOut publishes the digest after its commit
on one channel that every process follows; a process closes that token's sockets with 4401 at
once. If the broker lost messages (GAP), the process checks every token of its open sockets
against the database instead, so a revocation is never missed, only delayed.
"""

from __future__ import annotations

import logging
from typing import Protocol

from stepwise.models.actions.accounts import revoked_among
from stepwise.permissions.auth import token_digest
from stepwise.subscriptions.bus import GAP, Bus
from stepwise.subscriptions.channels import REVOKED_TOKENS

REVOKED_CODE = 4401
REVOKED_REASON = "Token revoked: sign in again"
logger = logging.getLogger("stepwise.sessions")


class Closable(Protocol):
    async def close_revoked(self) -> None: ...


class OpenSockets:
    """This process's authenticated websockets, by the digest of their token."""

    def __init__(self) -> None:
        self._by_digest: dict[str, set[Closable]] = {}

    def add(self, token: str, socket: Closable) -> None:
        self._by_digest.setdefault(token_digest(token), set()).add(socket)

    def discard(self, token: str, socket: Closable) -> None:
        digest = token_digest(token)
        sockets = self._by_digest.get(digest)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self._by_digest[digest]

    async def close_token(self, digest: str) -> None:
        for socket in list(self._by_digest.pop(digest, ())):
            await socket.close_revoked()

    def digests(self) -> list[str]:
        return list(self._by_digest)


async def follow_revocations(bus: Bus, sockets: OpenSockets) -> None:
    """Runs for the server's lifetime (app.py's lifespan)."""
    async with bus.subscribe(REVOKED_TOKENS) as messages:
        async for message in messages:
            try:
                if message is GAP:
                    for digest in await revoked_among(sockets.digests()):
                        await sockets.close_token(digest)
                else:
                    await sockets.close_token(message["token_digest"])
            except Exception:  # keep following: the next message or GAP tries again
                logger.exception("could not close the websockets of a revoked token")
