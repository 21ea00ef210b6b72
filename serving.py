"""What `stepwise serve` runs after its checks: uvicorn, with a deadline on request headers.

uvicorn times nothing out before a request's headers are complete: its keep-alive timeout is
armed only after a response, and any byte that arrives disarms it. So a client that sends part
of a request, or of a websocket upgrade, and stalls would hold its connection (and a file
descriptor) forever. `HeadersDeadline` closes a connection whose request headers are not complete
within STEPWISE_HEADERS_TIMEOUT_MS of its opening, or of the previous response on it. Once the
headers are in, the rest has its own limits: the body guards (guards.py) and, for a websocket,
the connection_init deadline (subscriptions/sockets.py).

Per-message deflate on websockets is offered only with STEPWISE_WS_DEFLATE=on: compressing each
small subscription message cost more server CPU than the rest of its delivery (docs/benchmarks.md,
"Realtime fan-out: one send per member").

Run as `python -m stepwise.serving` (cli.py execs it): the start-up stack stays as shallow as
plain `python -m uvicorn` (see the page-fault note in cli.py).
"""

from __future__ import annotations

import argparse
import asyncio
from functools import cache

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from stepwise.config import load_settings
from stepwise.guards import WS_MAX_MESSAGE_BYTES


@cache
def headers_timeout_seconds() -> float:
    return load_settings().headers_timeout_ms / 1000


class HeadersDeadline(HttpToolsProtocol):
    """uvicorn's default HTTP protocol (httptools, from uvicorn[standard]) plus the deadline."""

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()  # an upgrade too: the websocket protocol takes the connection from here
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request's headers have the same time

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(headers_timeout_seconds(), self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if self.cycle is None or self.cycle.response_complete:  # no request under way: drop it
            self.transport.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m stepwise.serving")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--reload", action="store_true")
    args = parser.parse_args(argv)
    uvicorn.run("stepwise.app:create_app", factory=True, host=args.host, port=args.port, workers=args.workers,
                log_level=args.log_level, reload=args.reload, ws_max_size=WS_MAX_MESSAGE_BYTES,
                ws_per_message_deflate=load_settings().ws_deflate,  # off unless asked: docs/operations.md
                http="stepwise.serving:HeadersDeadline")


if __name__ == "__main__":
    main()
