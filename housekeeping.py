"""Housekeeping: every log-in window, delete the throttling counts whose window has ended
(models/actions/sessions.py). Every server process runs it; a second delete finds nothing."""

from __future__ import annotations

import asyncio
import logging

from stepwise.models.actions.sessions import purge_expired_failures
from stepwise.permissions.session_rules import SessionRules

logger = logging.getLogger("stepwise.housekeeping")


async def run_housekeeping(rules: SessionRules, interval_seconds: float | None = None) -> None:
    """Purge until cancelled (the lifespan's end). Once a window is enough: a count then outlives
    its window by at most another one. A failed purge is logged and the next one retries."""
    interval = interval_seconds or rules.window_seconds
    while True:
        await asyncio.sleep(interval)
        try:
            purged = await purge_expired_failures(rules)
            if purged:
                logger.info("purged %d expired log-in failure count(s)", purged)
        except Exception:  # a database hiccup must not end the job for the process's lifetime
            logger.exception("purging expired log-in failure counts failed; retrying in %g s", interval)
