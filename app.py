"""The ASGI application: GraphQL on /graphql (HTTP and websockets), /health, the example pages
(/dashboard/, /worker/), one lifespan."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from cross_web import HTTPException  # strawberry's own HTTP error type
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from stepwise.client_pages import client_pages
from stepwise.config import Settings, load_settings
from stepwise.downloads import INSTRUCTIONS_PATH, instructions_endpoint
from stepwise.exports import EXPORT_PATH, export_endpoint
from stepwise.graphiql import content_security_policy, graphiql_assets, graphiql_page
from stepwise.guards import RequestGuards, SecurityHeaders
from stepwise.models import stored_files
from stepwise.models.actions.accounts import authenticate_with_roles
from stepwise.models.actions.instructions import kept_names
from stepwise.models.db.lifecycle import open_database, ping_database
from stepwise.housekeeping import run_housekeeping
from stepwise.notifier import run_notifier
from stepwise.permissions.access import Access
from stepwise.permissions.auth import bearer_token, use_password_hashing
from stepwise.schema.app import build_schema
from stepwise.schema.context import Context
from stepwise.subscriptions.bus import open_bus
from stepwise.subscriptions.caps import SubscriptionCaps
from stepwise.subscriptions.feeds import Feeds
from stepwise.subscriptions.revocations import OpenSockets, follow_revocations
from stepwise.subscriptions.sockets import (
    LegacyWSHandler,
    TransportWSHandler,
    rejection_reason,
    token_of_connection,
    viewer_of_connection,
)
from stepwise.uploads import UploadRequestAdapter, discard_files, parse_graphql_multipart, track_files
from strawberry import UNSET
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError

logger = logging.getLogger("stepwise")
HEALTH_TIMEOUT_SECONDS = 2.0
SIGNED_IN = "stepwise.signed_in"  # ASGI scope key


class StepwiseGraphQL(GraphQL):
    """Authenticates once per request (HTTP) or per connection (websocket, from connection_init)
    and builds a fresh context for it."""

    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler
    request_adapter_class = UploadRequestAdapter

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            build_schema(settings),
            multipart_uploads_enabled=True,
            allowed_origins=settings.allowed_origins,
            connection_init_wait_timeout=timedelta(milliseconds=settings.ws_init_timeout_ms),
        )
        self.settings = settings
        self.open_sockets = OpenSockets()  # closed by logOut (subscriptions/revocations.py)
        self.subscription_caps = SubscriptionCaps(settings.max_subscriptions_per_user,
                                                  settings.max_subscriptions_per_process)
        self._graphiql_page = graphiql_page()
        self._graphiql_policy = content_security_policy(self._graphiql_page)

    @property
    def graphql_ide_html(self) -> str:
        """Our GraphiQL page, whose assets this server serves (strawberry's loads them from a CDN)."""
        return self._graphiql_page

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(self.graphql_ide_html, headers={"content-security-policy": self._graphiql_policy})

    def decode_json(self, data: str | bytes) -> object:
        """JSON that is not UTF-8 or nests absurdly deep is a client error, not a crash."""
        try:
            return json.loads(data)
        except (UnicodeDecodeError, RecursionError):
            raise HTTPException(400, "The request body is not valid UTF-8 JSON.") from None

    async def parse_http_body(self, request: Any):
        # Batches are off, so a body must be one JSON object (strawberry assumes it is). A body
        # starting with { or [ is one (or invalid, which strawberry answers): decode only others.
        if request.method != "GET" and "application/json" in (request.content_type or ""):
            body = await request.get_body()
            if body.lstrip()[:1] not in (b"{", b"[") and not isinstance(self.parse_json(body), (dict, list)):
                raise HTTPException(400, "The request body must be a JSON object.")
        return await super().parse_http_body(request)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        track_files(scope)
        try:
            await super().__call__(scope, receive, send)
        finally:
            await discard_files(scope)  # whatever happened, no temporary upload outlives its request

    async def parse_multipart(self, request: UploadRequestAdapter) -> dict:
        """Uploads stream to disk as they arrive (uploads.py), never into memory; an anonymous
        request (UNAUTHENTICATED whatever it asks) gets nothing written."""
        starlette_request = request.starlette_request
        signed_in = starlette_request.scope.get(SIGNED_IN, False)
        return await parse_graphql_multipart(
            starlette_request, self.settings.files_dir if signed_in else None, self.settings.max_upload_bytes,
            self.parse_json,
        )

    async def on_ws_connect(self, context: Context):
        """Both protocols: authenticate the connection_init payload; the legacy protocol answers
        a bad token with a connection_error message."""
        viewer = await viewer_of_connection(context.connection_params, self.settings.session_rules)
        if viewer is None:
            raise ConnectionRejectionError({"message": rejection_reason(context.connection_params)})
        context.access = Access(viewer)
        context.token = token_of_connection(context.connection_params)
        return UNSET

    async def get_context(self, request: Any, response: Any) -> Context:
        header = request.headers.get("authorization")
        token = bearer_token(header)
        found = await authenticate_with_roles(token, self.settings.session_rules)
        viewer, roles = found if found is not None else (None, None)
        request.scope[SIGNED_IN] = viewer is not None  # read when a multipart body is parsed, just after
        return Context(
            request=request,
            response=response,
            settings=self.settings,
            access=Access(viewer, token_rejected=bool(header), roles=roles),
            request_id=request.scope.get("state", {}).get("request_id", "-"),
            token=token if viewer is not None else None,
            subscription_caps=self.subscription_caps,
        )


async def health(request: Request) -> JSONResponse:
    """503 when the database does not answer within two seconds. Otherwise 200: "ok", or
    "degraded" while the broker is lost (reads and writes work; live updates wait for the
    broker, then catch up), so a load balancer keeps the process."""
    broker = request.app.state.bus.status()
    try:
        await asyncio.wait_for(ping_database(), HEALTH_TIMEOUT_SECONDS)
    except Exception as error:  # any failure means unhealthy; say which
        logger.warning("health check failed: %s", error)
        return JSONResponse({"status": "unavailable", "database": "unreachable", **broker}, status_code=503)
    status = "ok" if broker["broker"] == "ok" else "degraded"
    return JSONResponse({"status": status, "database": "ok", **broker})


def cors(settings: Settings) -> Middleware:
    """Browser frontends on other origins: STEPWISE_ALLOWED_ORIGINS, or any origin when it is empty
    (credentials are bearer tokens, which a browser never sends on its own, so an allowed origin
    gains nothing the token's holder did not give it). Websockets check the same list."""
    return Middleware(
        CORSMiddleware, allow_origins=list(settings.allowed_origins) or ["*"], allow_methods=["GET", "POST"],
        allow_headers=["authorization", "content-type", "x-request-id"], expose_headers=["x-request-id", "retry-after"],
        max_age=600,
    )


def create_app(settings: Settings | None = None) -> Starlette:
    """The app for uvicorn (`stepwise.app:create_app`, factory) and for tests."""
    settings = settings or load_settings()
    use_password_hashing(settings.password_hashing)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict]:
        database = open_database(settings.database_url, settings.sqlite_engine, settings.sqlite_loop_budget_ms)
        async with database, open_bus(settings.broker_url, settings.broker_timeout_ms / 1000) as bus:
            settings.files_dir.mkdir(parents=True, exist_ok=True)
            removed = stored_files.sweep_leftovers(settings.files_dir, await kept_names())
            if removed:
                logger.info("removed %d leftover upload file(s) from %s", len(removed), settings.files_dir)
            app.state.bus = bus  # for in-process listeners (tests, background jobs)
            notifier = asyncio.create_task(run_notifier(bus, settings.notification_interval_seconds))
            revocations = asyncio.create_task(follow_revocations(bus, graphql.open_sockets))
            housekeeping = asyncio.create_task(run_housekeeping(settings.session_rules))
            # Start-up objects (schema, models, modules) never die: keep them out of every
            # collection. Measured: p90 of a task page 81 -> 33 ms (docs/benchmarks.md).
            gc.freeze()
            try:
                yield {"bus": bus, "feeds": Feeds(bus)}
            finally:
                gc.unfreeze()  # this app's objects may die with it (an app in a longer process: tests)
                jobs = (notifier, revocations, housekeeping)
                for job in jobs:  # before the bus and the database close under them
                    job.cancel()
                await asyncio.gather(*jobs, return_exceptions=True)

    graphql = StepwiseGraphQL(settings)
    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/health", health, methods=["GET"]),
            graphiql_assets(),
            *client_pages(),
            Route(INSTRUCTIONS_PATH + "{campaign_id}", instructions_endpoint(settings.files_dir, settings.session_rules), methods=["GET", "HEAD"]),
            Route(EXPORT_PATH + "{version_id}/{format}", export_endpoint(settings.session_rules), methods=["GET"]),
        ],
        middleware=[Middleware(SecurityHeaders), cors(settings),
                    Middleware(RequestGuards, max_body_bytes=settings.max_request_bytes,
                               max_multipart_bytes=settings.max_multipart_request_bytes)],
        lifespan=lifespan,
    )
