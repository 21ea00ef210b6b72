"""The websocket side of /graphql, both protocols (graphql-transport-ws and the legacy graphql-ws).

- Authentication once per connection, from the connection_init payload: the key `authorization`
  in any case, its value with or without the `Bearer ` prefix.
- A socket that sends no connection_init in time is closed 4408 on either protocol (strawberry
  does it for the new protocol only).
- A document that fails (syntax, validation, limits, an operation the protocol cannot carry)
  gets an `error` message with a code: strawberry closes a graphql-transport-ws socket on a
  syntax error, which would end the client's other subscriptions too.

- Each operation runs with its Delivery (subscriptions/shared_results.py): how a payload shared
  by a group of subscribers reaches this operation, in this protocol's envelope.

Message size is bounded below this, where frames are read (guards.py, `stepwise serve`).
"""

from __future__ import annotations

import asyncio
import json

from starlette.websockets import WebSocketDisconnect
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

from stepwise.models.actions.accounts import authenticate, revoked_among
from stepwise.models.errors import INVALID_TOKEN
from stepwise.permissions.auth import token_digest
from stepwise.subscriptions.revocations import REVOKED_CODE, REVOKED_REASON
from stepwise.subscriptions.shared_results import Delivery, delivering

INIT_TIMEOUT_CODE = 4408
INIT_TIMEOUT_REASON = "Connection initialisation timeout"


def token_of_connection(params: object) -> str | None:
    """The token of a connection_init payload: {"authorization": "Bearer <token>"}, the key in any
    case, the `Bearer ` prefix optional."""
    if not isinstance(params, dict):
        return None
    value = next((v for k, v in params.items() if isinstance(k, str) and k.lower() == "authorization"), None)
    if not isinstance(value, str):
        return None
    scheme, _, rest = value.strip().partition(" ")
    token = rest.strip() if scheme.lower() == "bearer" else value.strip()
    return token or None


def rejection_reason(params: object) -> str:
    """Why a websocket is refused, for the close reason and the legacy connection_error: a token
    that was sent but refused, or none at all (both fit a close reason's 123 bytes)."""
    if token_of_connection(params) is not None:
        return INVALID_TOKEN
    return "Sign in first: send {\"authorization\": \"Bearer <token>\"} in connection_init."


async def viewer_of_connection(params: object, session_rules):
    """The user named by a websocket's connection_init payload, or None."""
    token = token_of_connection(params)
    return await authenticate(token, session_rules) if token else None


def with_own_roles(handler) -> None:
    """In the task of an operation that starts: its permission checks, and every later event,
    read the viewer's roles as they are now, in a view of its own (Access.per_operation), never
    roles loaded on the socket's shared Access, which nothing refreshes."""
    access = getattr(handler.context, "access", None)
    if access is not None:
        access.per_operation(fresh=True)


def delivery_for(handler, operation_id: str, message_type: str, query: str, variables, operation_name) -> Delivery:
    """How shared payloads reach one operation of this socket: `message_type` is `next`
    (graphql-transport-ws) or `data` (graphql-ws)."""
    envelope = f'{{"type":"{message_type}","id":{json.dumps(operation_id)},"payload":'

    async def send_text(text: str) -> None:
        if not handler.still_running(operation_id):
            return  # completed meanwhile: nothing more goes to this id
        try:
            await handler.websocket.ws.send_text(text)
        except WebSocketDisconnect as error:  # as strawberry's own sends report it
            raise WebSocketDisconnected from error

    return Delivery(handler.schema, query, variables, operation_name, envelope, send_text,
                    encode=handler.view.encode_json)


class Revocable:
    """Both protocols: an authenticated socket is known to the process's OpenSockets under its
    token until it ends, so that logOut closes it (subscriptions/revocations.py)."""

    registered_token: str | None = None

    async def register_if_signed_in(self) -> None:
        access, token = getattr(self.context, "access", None), getattr(self.context, "token", None)
        if access is None or access.viewer is None or not token:
            return
        self.unregister()  # a second connection_init (legacy protocol) replaces the first
        self.registered_token = token
        self.view.open_sockets.add(token, self)
        # A logOut that committed between the authentication and now found nothing to close.
        if await revoked_among([token_digest(token)]):
            await self.close_revoked()

    def unregister(self) -> None:
        if self.registered_token is not None:
            self.view.open_sockets.discard(self.registered_token, self)
            self.registered_token = None

    async def close_revoked(self) -> None:
        try:
            await self.websocket.close(code=REVOKED_CODE, reason=REVOKED_REASON)
        except Exception:  # noqa: BLE001 - the client went away first: nothing left to close
            pass


class TransportWSHandler(Revocable, BaseGraphQLTransportWSHandler):
    """graphql-transport-ws: a missing or bad token closes the socket with 4401, as the contract
    says; a bad document is an `error` message, not a closed socket."""

    async def handle(self) -> None:
        try:
            await super().handle()
        finally:
            self.unregister()

    async def handle_connection_init(self, message) -> None:
        payload = message.get("payload")
        if await viewer_of_connection(payload, self.view.settings.session_rules) is None:
            await self.websocket.close(code=4401, reason=rejection_reason(payload))
            return
        await super().handle_connection_init(message)
        await self.register_if_signed_in()

    @staticmethod
    def _get_pre_execution_close_reason(error) -> None:
        return None

    async def run_operation(self, operation) -> None:
        with_own_roles(self)
        delivery = delivery_for(self, operation.id, "next", operation.query, operation.variables, operation.operation_name)
        with delivering(delivery):
            await super().run_operation(operation)

    def still_running(self, operation_id: str) -> bool:
        operation = self.operations.get(operation_id)
        return operation is not None and not operation.completed


class LegacyWSHandler(Revocable, BaseGraphQLWSHandler):
    """graphql-ws: the same connection_init deadline as the new protocol."""

    async def handle(self) -> None:
        deadline = asyncio.create_task(self._close_unless_initialised())
        try:
            await super().handle()
        finally:
            deadline.cancel()
            self.unregister()

    async def handle_connection_init(self, message) -> None:
        self.connection_init_received = True
        await super().handle_connection_init(message)
        await self.register_if_signed_in()

    async def handle_async_results(self, operation_id: str, query: str, operation_name, variables) -> None:
        with_own_roles(self)
        with delivering(delivery_for(self, operation_id, "data", query, variables, operation_name)):
            await super().handle_async_results(operation_id, query, operation_name, variables)

    def still_running(self, operation_id: str) -> bool:
        return operation_id in self.tasks

    async def _close_unless_initialised(self) -> None:
        await asyncio.sleep(self.view.connection_init_wait_timeout.total_seconds())
        if not getattr(self, "connection_init_received", False):
            try:
                await self.websocket.close(code=INIT_TIMEOUT_CODE, reason=INIT_TIMEOUT_REASON)
            except Exception:  # noqa: BLE001 - the client went away first: nothing left to close
                pass
