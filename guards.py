"""HTTP guards in front of the app: a request id on every response, and a body size limit; on
websockets, a message size limit.

Neither uvicorn nor Starlette limits request bodies: an oversized one is answered 413 without
being read (by Content-Length), or as soon as the streamed bytes pass the limit. Multipart
requests (uploads) have their own limit, so that an allowed file gets through.
"""

from __future__ import annotations

import json
import logging
import re
import uuid

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stepwise.models.db.availability import database_full, database_unavailable
from stepwise.models.errors import storage_failure

logger = logging.getLogger("stepwise.http")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Largest websocket message. `stepwise serve` gives it to uvicorn (--ws-max-size), which refuses a
# bigger frame from its header, before reading it (close 1009); the check here covers a server
# started some other way, once the message has been read.
WS_MAX_MESSAGE_BYTES = 64 * 1024


async def _send_json(send: Send, status: int, body: dict, request_id: str) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"x-request-id", request_id.encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class _BodyTooLarge(Exception):
    pass


def _bounded_websocket(receive: Receive, send: Send) -> Receive:
    """A receive that closes the socket (1009, "message too big") on an oversized message and
    tells the app the client is gone."""

    async def bounded_receive() -> Message:
        message = await receive()
        if message["type"] == "websocket.receive":
            text, data = message.get("text"), message.get("bytes")
            size = len(data) if data is not None else len(text.encode()) if text is not None else 0
            if size > WS_MAX_MESSAGE_BYTES:
                await send({"type": "websocket.close", "code": 1009, "reason": "Message too big"})
                return {"type": "websocket.disconnect", "code": 1009}
        return message

    return bounded_receive


class RequestGuards:
    def __init__(self, app: ASGIApp, max_body_bytes: int, max_multipart_bytes: int | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_multipart_bytes = max_multipart_bytes or max_body_bytes

    def limit_for(self, headers: dict[bytes, bytes]) -> int:
        """The body limit of a request: uploads (multipart) have theirs."""
        if headers.get(b"content-type", b"").lower().startswith(b"multipart/form-data"):
            return self.max_multipart_bytes
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = request_id
        if scope["type"] == "websocket":
            await self.app(scope, _bounded_websocket(receive, send), send)
            return

        limit = self.limit_for(headers)
        too_large = {"errors": [{"message": f"Request body over {limit} bytes.", "extensions": {"code": "BAD_REQUEST"}}]}
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _send_json(send, 400, {"errors": [{"message": "Bad Content-Length."}]}, request_id)
                return
            if int(declared) > limit:
                await _send_json(send, 413, too_large, request_id)
                return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge()
            return message

        async def tagged_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, limited_receive, tagged_send)
        except _BodyTooLarge:
            if not started:
                await _send_json(send, 413, too_large, request_id)
        except ClientDisconnect:
            # The client left mid-body (a cancelled upload): nobody to answer, nothing to report.
            logger.info("client disconnected during request %s", request_id)
        except Exception as exc:
            failure = storage_failure(database_unavailable(exc), database_full(exc))
            if failure:  # not a bug: the database is down or restarting, or its disk is full
                logger.warning("request %s: %s: %s", request_id, failure[0], exc)
                if not started:
                    error = {"message": failure[1], "extensions": {"code": failure[0], "requestId": request_id}}
                    await _send_json(send, 503, {"errors": [error]}, request_id)
                return
            # A bug: log it with the request id the client gets, and answer without internals.
            logger.exception("unhandled error in request %s", request_id)
            if not started:
                error = {"message": "Unexpected error.", "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}}
                await _send_json(send, 500, {"errors": [error]}, request_id)


# Sent on every HTTP response that does not set them itself. The API answers JSON to scripts and
# frontends: nothing of it may be framed, sniffed as another type, or leak the page it came from.
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
# Not HTML, so no script of it ever runs: no source at all. Pages (GraphiQL) set their own policy.
NON_HTML_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
HSTS = (b"strict-transport-security", b"max-age=31536000")


class SecurityHeaders:
    """Adds SECURITY_HEADERS (and a content security policy to non-HTML answers, HSTS over HTTPS)
    to every HTTP response, keeping any the app set itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                content_type = dict((n.lower(), v) for n, v in headers).get(b"content-type", b"")
                wanted = [*SECURITY_HEADERS, *([] if content_type.startswith(b"text/html") else [NON_HTML_CSP]),
                          *([HSTS] if scope.get("scheme") == "https" else [])]
                message["headers"] = headers + [(name, value) for name, value in wanted if name not in present]
            await send(message)

        await self.app(scope, receive, with_headers)
