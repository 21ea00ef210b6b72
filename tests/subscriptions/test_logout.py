"""logOut (RULES "Sessions"): the request's token is revoked at once, over HTTP and for the
websockets opened with it (closed 4401), in every server process; other tokens go on."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
import websockets

from conftest import REDIS_URL, Api, _require, running_server

TRANSPORT, LEGACY = "graphql-transport-ws", "graphql-ws"
LOG_OUT = "mutation { logOut { revoked errors { code } } }"
LOG_IN = "mutation($i: LogInInput!) { logIn(input: $i) { token } }"
ME = "{ me { username } }"


async def open_socket(url: str, protocol: str, token: str):
    ws = await websockets.connect(url, subprotocols=[protocol])
    await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
    ack = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert ack["type"] == "connection_ack", ack
    return ws


async def close_code(ws, within: float = 5) -> tuple[int, float]:
    """The close code the server sent, and how long it took to come."""
    started = time.monotonic()
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), within))
            assert message["type"] in ("ka", "complete"), message  # no data before the close
    return closed.value.rcvd.code, time.monotonic() - started


async def still_open(ws) -> bool:
    await ws.send(json.dumps({"type": "ping"}))
    try:
        while True:
            if json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "pong":
                return True
    except websockets.ConnectionClosed:
        return False


async def test_log_out_revokes_the_token_for_http_and_its_open_websockets(live_server):
    url = live_server.replace("http", "ws") + "/graphql"
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as client:
        api = Api(client)
        token, _ = await api.sign_up("ada")
        other = (await api.data(LOG_IN, {"i": {"username": "ada", "password": "correct horse battery"}}))["logIn"]["token"]
        sockets = [await open_socket(url, TRANSPORT, token), await open_socket(url, LEGACY, token)]
        kept = await open_socket(url, TRANSPORT, other)

        assert (await api.data(LOG_OUT, token=token))["logOut"] == {"revoked": True, "errors": []}
        for ws in sockets:  # both protocols, closed by the server
            code, _ = await close_code(ws)
            assert code == 4401
        # The token is refused from now on; the user's other token is untouched.
        assert (await api.data(ME, token=token))["me"] is None
        refused = await api.post(LOG_OUT, token=token)
        assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert (await api.data(ME, token=other))["me"] == {"username": "ada"}
        assert await still_open(kept)
        await kept.close()


async def test_log_out_over_a_websocket_closes_that_socket(live_server):
    url = live_server.replace("http", "ws") + "/graphql"
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as client:
        token, _ = await Api(client).sign_up("bob")
    ws = await open_socket(url, TRANSPORT, token)
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": LOG_OUT}}))
    answer = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert answer["payload"]["data"]["logOut"]["revoked"] is True
    code, _ = await close_code(ws)
    assert code == 4401


async def test_a_log_out_on_one_process_closes_the_sockets_on_another(settings_env):
    """Two servers on one database and Redis: the token's socket on B closes when A revokes it."""
    env = {**settings_env, "STEPWISE_BROKER_URL": _require(REDIS_URL, "Redis", "STEPWISE_TEST_REDIS_URL")}
    with running_server(env) as a, running_server(env) as b:
        async with httpx.AsyncClient(base_url=a, timeout=30) as client:
            api = Api(client)
            token, _ = await api.sign_up("cyd")
            ws = await open_socket(b.replace("http", "ws") + "/graphql", TRANSPORT, token)
            assert (await api.data(LOG_OUT, token=token))["logOut"]["revoked"] is True
            code, took = await close_code(ws)
    assert code == 4401
    print(f"logOut: the socket on the other process closed {took * 1000:.0f} ms after the mutation answered")
