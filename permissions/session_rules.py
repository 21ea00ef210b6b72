"""The rules of sessions, as settings give them (a plain value: config.py builds it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SessionRules:
    """Log-in throttling and token idleness (settings STEPWISE_LOGIN_* and STEPWISE_TOKEN_IDLE_DAYS;
    applied by models/actions/sessions.py)."""

    max_failures_per_account: int = 10
    max_failures_per_address: int = 100
    window_seconds: int = 15 * 60
    token_idle_seconds: int = 30 * 24 * 3600
