"""bench/fanout.py's subscribers: light websocket clients, spread over --client-processes processes.

Each socket is a bare asyncio Protocol that does the graphql-transport-ws handshake itself and
parses the server's frames in `data_received`: no task, queue or future per message (the
`websockets` client woke a task per message and cost ~90 us of CPU per update, as much as the
server, on the same 2 CPUs). Every update is still parsed whole with json.loads and checked.
Frames the server sends are unmasked and whole (FIN set); ours are masked with a zero key (the
protocol asks for a mask, not a secret one). A ping is answered with a pong.

A process runs `serve(connection, ...)`: it opens its share of the sockets, then obeys the
commands of the bench's main process on a pipe: ("until", n) answers once every one of its
subscribers has n updates; ("measure",) clears the latencies and starts counting its CPU;
("report",) sends back latencies, repeats, kinds and CPU; ("close",) ends.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections import Counter
from datetime import datetime
from urllib.parse import urlsplit


class Fleet:
    """The subscribers of one process, and a wait until each has `n` updates."""

    def __init__(self) -> None:
        self.members: list[Subscriber] = []
        self.target, self.missing, self.reached = 0, 0, None
        self.error: str | None = None

    def arrived(self, subscriber: Subscriber) -> None:
        if subscriber.count == self.target:
            self.missing -= 1
            if self.missing == 0 and self.reached is not None and not self.reached.done():
                self.reached.set_result(None)

    def failed(self, error: str) -> None:
        self.error = self.error or error
        if self.reached is not None and not self.reached.done():
            self.reached.set_exception(RuntimeError(error))

    async def until(self, n: int, timeout: float = 120) -> None:
        if self.error:
            raise RuntimeError(self.error)
        self.target, self.missing = n, sum(1 for m in self.members if m.count < n)
        if self.missing == 0:
            return
        self.reached = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(self.reached, timeout)
        except TimeoutError:
            least = min(m.count for m in self.members)
            raise RuntimeError(f"a subscriber waited {timeout:.0f} s for update {n} (has {least})") from None


def frame(text: str, opcode: int = 0x1) -> bytes:
    """One client frame: FIN, `opcode`, masked with a zero key (so the data goes as it is)."""
    data = text.encode()
    size = len(data)
    head = bytes([0x80 | opcode]) + (bytes([0x80 | size]) if size < 126 else bytes([0x80 | 126]) + size.to_bytes(2, "big"))
    return head + b"\0\0\0\0" + data


class Subscriber(asyncio.Protocol):
    """One socket, one taskUpdates subscription; records each update's latency."""

    def __init__(self, fleet: Fleet, token: str, query: str, variables: dict) -> None:
        self.fleet, self.token, self.query, self.variables = fleet, token, query, variables
        self.buffer = bytearray()
        self.upgraded = False
        self.ready = asyncio.get_running_loop().create_future()  # subscribed
        self.latencies: list[float] = []
        self.cursors: set[str] = set()
        self.kinds: Counter[str] = Counter()
        self.count = 0
        self.transport = None

    async def open(self, url: str) -> None:
        parts = urlsplit(url)
        await asyncio.get_running_loop().create_connection(lambda: self, parts.hostname, parts.port)
        key = base64.b64encode(os.urandom(16)).decode()
        self.transport.write((f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                              f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                              "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n").encode())
        await asyncio.wait_for(self.ready, 60)

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        self.fail(f"the server closed a socket after {self.count} updates ({exc!r})")

    def fail(self, error: str) -> None:
        if not self.ready.done():
            self.ready.set_exception(RuntimeError(error))
        self.fleet.failed(error)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.buffer.startswith(b"HTTP/1.1 101"):
                return self.fail(f"no upgrade: {bytes(self.buffer[:200])!r}")
            del self.buffer[:end + 4]
            self.upgraded = True
            self.transport.write(frame(json.dumps({"type": "connection_init",
                                                   "payload": {"authorization": f"Bearer {self.token}"}})))
        self.read_frames()

    def read_frames(self) -> None:
        buffer = self.buffer
        while len(buffer) >= 2:
            first, size, start = buffer[0], buffer[1] & 0x7F, 2
            if size == 126:
                if len(buffer) < 4:
                    return
                size, start = int.from_bytes(buffer[2:4], "big"), 4
            elif size == 127:
                if len(buffer) < 10:
                    return
                size, start = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < start + size:
                return
            data = bytes(buffer[start:start + size])
            del buffer[:start + size]
            opcode = first & 0x0F
            if not first & 0x80:
                return self.fail("a fragmented message")
            if opcode == 0x1:
                self.on_message(json.loads(data))
            elif opcode == 0x9:
                self.transport.write(frame(data.decode(), 0xA))
            elif opcode == 0x8:
                return self.fail(f"closed by the server after {self.count} updates: {data!r}")

    def on_message(self, message: dict) -> None:
        kind = message["type"]
        if kind == "connection_ack":
            self.transport.write(frame(json.dumps({"id": "1", "type": "subscribe",
                                                   "payload": {"query": self.query, "variables": self.variables}})))
            self.ready.set_result(None)
        elif kind == "next" and "errors" not in message["payload"]:
            update = message["payload"]["data"]["taskUpdates"]
            self.latencies.append(time.time() - datetime.fromisoformat(update["at"]).timestamp())
            self.cursors.add(update["cursor"])
            self.kinds[update["kind"]] += 1
            self.count += 1
            self.fleet.arrived(self)
        elif kind != "pong":
            self.fail(f"unexpected message {message!r:.300}")


async def _serve(connection, url: str, token: str, query: str, variables: dict, how_many: int) -> None:
    fleet = Fleet()
    fleet.members = [Subscriber(fleet, token, query, variables) for _ in range(how_many)]
    loop = asyncio.get_running_loop()
    try:
        for start in range(0, how_many, 50):  # 50 handshakes at a time
            await asyncio.gather(*(m.open(url) for m in fleet.members[start:start + 50]))
    except Exception as error:  # noqa: BLE001 - told to the main process
        connection.send(("error", f"{error!r:.500}"))
        return
    connection.send(("open", how_many))
    cpu = time.process_time()
    while True:
        command = await loop.run_in_executor(None, connection.recv)
        if command[0] == "until":
            try:
                await fleet.until(command[1])
                connection.send(("reached", command[1]))
            except Exception as error:  # noqa: BLE001
                connection.send(("error", f"{error}"))
        elif command[0] == "measure":
            for member in fleet.members:
                member.latencies.clear()
            cpu = time.process_time()
            connection.send(("measuring",))
        elif command[0] == "report":
            connection.send(("report", {
                "cpu": time.process_time() - cpu,
                "latencies": [x for m in fleet.members for x in m.latencies],
                "repeated": sum(m.count - len(m.cursors) for m in fleet.members),
                "kinds": dict(sum((m.kinds for m in fleet.members), Counter())),
            }))
        else:
            for member in fleet.members:
                member.transport.close()
            connection.send(("closed",))
            return


def serve(connection, url: str, token: str, query: str, variables: dict, how_many: int) -> None:
    """A client process's body (multiprocessing target)."""
    asyncio.run(_serve(connection, url, token, query, variables, how_many))
