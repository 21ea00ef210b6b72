"""Websocket hygiene on both protocols, against a real uvicorn (`stepwise serve`) and the
`websockets` client: connection_init deadline, message size, coded errors for bad documents,
the legacy protocol's refusal of queries, the connection_init token forms, SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest
import websockets

from conftest import ROOT, SQLITE_SETTINGS, Api, free_port, running_server

TRANSPORT, LEGACY = "graphql-transport-ws", "graphql-ws"
START = {TRANSPORT: "subscribe", LEGACY: "start"}
ME = "{ me { username } }"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server for the module (connection_init deadline shortened to 0.5 s) and a token."""
    data = tmp_path_factory.mktemp("hygiene")
    env = {"STEPWISE_DATABASE_URL": f"sqlite://{data / 'stepwise.sqlite3'}", "STEPWISE_DATA_DIR": str(data),
           "STEPWISE_WS_INIT_TIMEOUT_MS": "500", "STEPWISE_HEADERS_TIMEOUT_MS": "500", **SQLITE_SETTINGS}
    with running_server(env) as base:
        async def sign_up() -> str:
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                token, _ = await Api(client).sign_up("hygiene1")
                return token
        yield base.replace("http", "ws") + "/graphql", asyncio.run(sign_up())


async def connect(url: str, protocol: str, payload: dict | None):
    """An acknowledged socket (or the server's answer to its connection_init)."""
    ws = await websockets.connect(url, subprotocols=[protocol])
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
    return ws, json.loads(await asyncio.wait_for(ws.recv(), 5))


async def closed_code(ws) -> int:
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), 5)
    return closed.value.rcvd.code


async def answer(ws) -> dict:
    """The next message about an operation (keep-alives skipped)."""
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if message["type"] != "ka":
            return message


@pytest.mark.parametrize("protocol", [TRANSPORT, LEGACY])
async def test_a_socket_without_connection_init_is_closed_4408(server, protocol):
    url, _ = server
    async with websockets.connect(url, subprotocols=[protocol]) as ws:
        assert await closed_code(ws) == 4408


@pytest.mark.parametrize("protocol", [TRANSPORT, LEGACY])
@pytest.mark.parametrize("form", ["authorization", "Authorization", "AUTHORIZATION"])
@pytest.mark.parametrize("prefix", ["Bearer ", "bearer ", ""])
async def test_the_connection_init_token_key_in_any_case_with_or_without_bearer(server, protocol, form, prefix):
    url, token = server
    ws, ack = await connect(url, protocol, {form: prefix + token})
    assert ack["type"] == "connection_ack"
    await ws.close()


@pytest.mark.parametrize("protocol", [TRANSPORT, LEGACY])
async def test_a_message_over_64_kib_closes_the_socket_1009(server, protocol):
    url, token = server
    ws, ack = await connect(url, protocol, {"authorization": token})
    assert ack["type"] == "connection_ack"
    padding = "#" * (64 * 1024)
    await ws.send(json.dumps({"id": "1", "type": START[protocol], "payload": {"query": ME + padding}}))
    assert await closed_code(ws) == 1009
    # The server is fine: a new socket is served.
    ws, ack = await connect(url, protocol, {"authorization": token})
    assert ack["type"] == "connection_ack"
    await ws.close()


def test_a_frame_announcing_16_mib_is_refused_from_its_header(server):
    """Not buffered: the server closes after the frame header, while the body never comes."""
    url, _ = server
    host, port = url.removeprefix("ws://").split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall((f"GET /graphql HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                     f"Sec-WebSocket-Protocol: {TRANSPORT}\r\n\r\n").encode())
        response = b""
        while b"\r\n\r\n" not in response:
            response += raw.recv(4096)
        assert response.startswith(b"HTTP/1.1 101")
        # FIN + text, masked, 64-bit length 16 MiB, a mask key, then only 10 bytes of the body.
        raw.sendall(bytes([0x81, 0x80 | 127]) + (16 * 1024 * 1024).to_bytes(8, "big") + b"abcd" + b"x" * 10)
        frame = raw.recv(4096)
        while frame and frame[0] != 0x88:  # skip to the close frame
            frame = raw.recv(4096)
        assert frame[0] == 0x88 and int.from_bytes(frame[2:4], "big") == 1009


def closed_by_server(raw: socket.socket) -> bool:
    """Whether the server closes the connection (reads until EOF; False if it stays open 10 s)."""
    raw.settimeout(10)
    try:
        while raw.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


UPGRADE_HEAD = ("GET /graphql HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")  # no Sec-WebSocket-Version, no blank line


def test_a_half_sent_upgrade_is_dropped(server):
    """Part of the upgrade, then nothing: uvicorn alone would wait forever (its keep-alive
    timeout starts only after a response); the headers deadline (0.5 s here) closes it."""
    url, _ = server
    host = url.removeprefix("ws://").split("/")[0]
    with socket.create_connection(tuple(host.split(":")), timeout=5) as raw:
        raw.sendall(UPGRADE_HEAD.format(host=host).encode())
        assert closed_by_server(raw)


def test_a_half_sent_request_after_a_complete_one_on_the_same_connection_is_dropped(server):
    url, _ = server
    host = url.removeprefix("ws://").split("/")[0]
    with socket.create_connection(tuple(host.split(":")), timeout=5) as raw:
        raw.sendall(f"GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        response = b""
        while b"\r\n\r\n" not in response:
            response += raw.recv(4096)
        assert response.startswith(b"HTTP/1.1 200")
        raw.sendall(b"GET /health HTTP/1.1\r\nHo")
        assert closed_by_server(raw)


BAD_DOCUMENTS = {
    "syntax": ("subscription {", "GRAPHQL_PARSE_FAILED"),
    "unknown field": ("subscription { nope }", "GRAPHQL_VALIDATION_FAILED"),
    "too deep": ("subscription { taskUpdates(campaignId: \"x\") { task { " + "campaign { tasks { edges { node { " * 3
                 + "id" + " } } } }" * 3 + " } } }", "BAD_REQUEST"),
    "unknown operation name": ("subscription A { taskUpdates(campaignId: \"x\") { kind } }", "BAD_REQUEST"),
}


@pytest.mark.parametrize("protocol", [TRANSPORT, LEGACY])
@pytest.mark.parametrize("case", BAD_DOCUMENTS)
async def test_a_bad_document_gets_an_error_message_with_a_code_and_the_socket_stays(server, protocol, case):
    url, token = server
    document, code = BAD_DOCUMENTS[case]
    ws, _ = await connect(url, protocol, {"authorization": f"Bearer {token}"})
    payload = {"query": document, **({"operationName": "B"} if case == "unknown operation name" else {})}
    await ws.send(json.dumps({"id": "1", "type": START[protocol], "payload": payload}))
    message = await answer(ws)
    assert message["type"] == "error" and message["id"] == "1", message
    errors = message["payload"] if isinstance(message["payload"], list) else [message["payload"]]
    assert errors[0]["extensions"]["code"] == code, errors
    # The socket still serves (the operation id is free again).
    if protocol == TRANSPORT:
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": ME}}))
        assert (await answer(ws))["payload"] == {"data": {"me": {"username": "hygiene1"}}}
    else:
        await ws.send(json.dumps({"id": "1", "type": "start", "payload": {"query": "subscription { nope }"}}))
        assert (await answer(ws))["type"] == "error"
    await ws.close()


@pytest.mark.parametrize("document", [ME, "mutation { logOut { errors { code } } }"])
async def test_a_query_or_mutation_over_the_legacy_protocol_gets_a_clear_error(server, document):
    url, token = server
    ws, _ = await connect(url, LEGACY, {"authorization": f"Bearer {token}"})
    await ws.send(json.dumps({"id": "1", "type": "start", "payload": {"query": document}}))
    message = await answer(ws)
    assert message["type"] == "error", message
    assert message["payload"]["extensions"]["code"] == "BAD_REQUEST"
    assert "legacy graphql-ws" in message["payload"]["message"] and "graphql-transport-ws" in message["payload"]["message"]
    await ws.close()


async def test_sigterm_closes_open_sockets_1012_and_exits_within_5_s(tmp_path):
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("STEPWISE_")},
           "STEPWISE_DATABASE_URL": f"sqlite://{tmp_path / 'stepwise.sqlite3'}", "STEPWISE_DATA_DIR": str(tmp_path),
           **SQLITE_SETTINGS}
    process = subprocess.Popen([sys.executable, "-m", "stepwise", "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            for _ in range(300):
                try:
                    await client.get("/health")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            token, _ = await Api(client).sign_up("sigterm1")
        url = f"ws://127.0.0.1:{port}/graphql"
        sockets = []
        for protocol in (TRANSPORT, LEGACY):
            ws, ack = await connect(url, protocol, {"authorization": f"Bearer {token}"})
            assert ack["type"] == "connection_ack"
            sockets.append(ws)
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        codes = [await closed_code(ws) for ws in sockets]
        assert codes == [1012, 1012]
        await asyncio.to_thread(process.wait, 5 - (time.monotonic() - started))  # raises if it takes longer
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_app_refuses_a_message_over_64_kib_under_a_uvicorn_started_without_the_limit(tmp_path):
    """`uvicorn stepwise.app:create_app --factory` (16 MiB frames by default): the app still closes
    1009 instead of handing the message to GraphQL."""
    port = free_port()
    database = f"sqlite://{tmp_path / 'stepwise.sqlite3'}"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("STEPWISE_")},
           "STEPWISE_DATABASE_URL": database, "STEPWISE_DATA_DIR": str(tmp_path), **SQLITE_SETTINGS}
    subprocess.run([sys.executable, "-m", "stepwise", "migrate"], env=env, cwd=ROOT, check=True, capture_output=True)
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "stepwise.app:create_app", "--factory", "--port", str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    try:
        for _ in range(300):
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)

        async def oversized() -> int:
            async with websockets.connect(f"ws://127.0.0.1:{port}/graphql", subprotocols=[TRANSPORT]) as ws:
                await ws.send(json.dumps({"type": "connection_init", "payload": {"x": "#" * (64 * 1024)}}))
                return await closed_code(ws)

        assert asyncio.run(oversized()) == 1009
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=10)
    assert b"Traceback" not in errors, errors.decode()
