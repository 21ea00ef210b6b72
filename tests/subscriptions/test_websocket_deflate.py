"""Per-message deflate on the websocket, against a real `stepwise serve`: a client that offers it
(the `websockets` client does by default) gets it only when the server runs with
STEPWISE_WS_DEFLATE=on; otherwise messages go uncompressed, and either way subscriptions work."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

from conftest import Api, running_server

pytestmark = pytest.mark.timeout(120)

async def negotiated(base: str) -> tuple[str | None, dict]:
    """The extensions the server accepted for a client offering deflate, and its connection_ack."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        token, _ = await Api(client).sign_up("deflate1")
    url = base.replace("http", "ws") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"], compression="deflate") as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
        return ws.response.headers.get("Sec-WebSocket-Extensions"), ack


@pytest.mark.parametrize(("setting", "offered"), [(None, False), ("off", False), ("on", True)])
async def test_the_server_offers_deflate_only_when_asked(settings_env, setting, offered):
    env = {**settings_env, **({"STEPWISE_WS_DEFLATE": setting} if setting else {})}
    with running_server(env) as base:
        extensions, ack = await negotiated(base)
    assert ack["type"] == "connection_ack"
    if offered:
        assert extensions is not None and "permessage-deflate" in extensions
    else:
        assert extensions is None
