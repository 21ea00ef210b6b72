"""The context every resolver receives: the viewer's access, per-operation loaders, settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.types import Info as StrawberryInfo

from stepwise.config import Settings
from stepwise.permissions.access import Access
from stepwise.resolvers.loaders import Loaders


@dataclass
class Context:
    request: Any
    response: Any
    settings: Settings
    access: Access
    request_id: str
    loaders: Loaders = field(default_factory=Loaders)
    # Websockets: the connection_init payload (strawberry sets it); credentials travel there.
    connection_params: dict | None = None
    # The bearer token this request (or websocket) was authenticated with, for logOut.
    token: str | None = None
    # The process's caps on live subscriptions (subscriptions/caps.py; None outside a running app).
    subscription_caps: Any = None

    @property
    def viewer(self):
        return self.access.viewer

    @property
    def bus(self):
        """The event bus the app's lifespan opened (None outside a running app)."""
        state = getattr(self.request, "state", None)
        return getattr(state, "bus", None) if state is not None else None

    @property
    def feeds(self):
        """The process's campaign feeds (subscriptions/feeds.py), shared by its subscribers."""
        state = getattr(self.request, "state", None)
        return getattr(state, "feeds", None) if state is not None else None


Info = StrawberryInfo[Context, Any]
