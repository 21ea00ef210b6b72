"""Sessions: log-in throttling per account and per address, and idle tokens.

Every log-in attempt first counts itself, atomically, against its account and its address (one
upsert each, then the new count read back in the same transaction), so that concurrent attempts
cannot slip past the limit together; a success takes its count back. Past a limit, the password is not even checked until
the window ends. Counts live in the database: every server process sees the same ones.

Times here are the wall clock (Unix seconds), not the domain clock of models/clock.py: they are
about the machine's security, not about when work happened.
"""

from __future__ import annotations

import time
from stepwise.models.db import sql
from stepwise.models.errors import DomainError, ErrorCode
from stepwise.permissions.session_rules import SessionRules

TOUCH_EVERY_SECONDS = 60  # a token's last use is written at most once a minute


class TooManyAttempts(DomainError):
    """Past a limit: the same INVALID_CREDENTIALS (it says nothing of whether the account exists),
    and how long to wait."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(ErrorCode.INVALID_CREDENTIALS,
                         f"Too many failed log-ins: try again in {retry_after} s.")
        self.retry_after = retry_after


_COUNT_ATTEMPT = (
    "INSERT INTO login_failures (key, failures, window_started) VALUES (?, 1, ?)"
    " ON CONFLICT (key) DO UPDATE SET"
    " failures = CASE WHEN login_failures.window_started <= ? THEN 1 ELSE login_failures.failures + 1 END,"
    " window_started = CASE WHEN login_failures.window_started <= ? THEN excluded.window_started"
    " ELSE login_failures.window_started END"
)


def attempt_keys(username: str, address: str | None) -> list[str]:
    return [f"user:{username.strip().lower()[:100]}", f"address:{(address or 'unknown')[:100]}"]


async def count_attempt(keys: list[str], rules: SessionRules) -> None:
    """Count one attempt on the address's key, then the account's; TooManyAttempts when one of
    them is past its limit in its window. An address past its limit counts nothing more for
    accounts (a stream of made-up usernames from it adds no rows)."""
    now = int(time.time())
    expired = now - rules.window_seconds
    account, address = keys
    async with sql.transaction():
        for key, limit in ((address, rules.max_failures_per_address), (account, rules.max_failures_per_account)):
            await sql.execute(_COUNT_ATTEMPT, [key, now, expired, expired])
            # Read back in the same transaction: the upsert holds the row until commit, so this
            # is our own count, never one that a concurrent attempt also read.
            failures, started = (await sql.fetch(
                "SELECT failures, window_started FROM login_failures WHERE key = ?", [key]))[0]
            if failures > limit:
                raise_after = max(1, started + rules.window_seconds - now)
                break
        else:
            return
    raise TooManyAttempts(raise_after)


async def take_back_attempt(keys: list[str]) -> None:
    """A successful log-in: the account starts afresh; the address's count loses this attempt."""
    async with sql.transaction():
        await sql.execute("DELETE FROM login_failures WHERE key = ?", [keys[0]])
        await sql.execute("UPDATE login_failures SET failures = failures - 1 WHERE key = ? AND failures > 0", [keys[1]])


async def purge_expired_failures(rules: SessionRules, now: float | None = None) -> int:
    """Delete the counts whose window has ended; how many. They count nothing any more (the next
    attempt of their key starts a new window), but each address and name ever tried would keep a
    row. A scan of the table: on SQLite it runs on the bulk connection's thread."""
    expired = int(now or time.time()) - rules.window_seconds
    async with sql.bulk_transaction():
        return await sql.execute("DELETE FROM login_failures WHERE window_started <= ?", [expired])


def is_idle(last_used: int, rules: SessionRules, now: float | None = None) -> bool:
    return (now or time.time()) - last_used > rules.token_idle_seconds


async def touch_if_due(token_id: int, last_used: int) -> None:
    """Record that the token was used, at most once a minute (a write per request would cost
    every request a write transaction)."""
    now = int(time.time())
    if now - last_used < TOUCH_EVERY_SECONDS:
        return
    async with sql.transaction():
        await sql.execute("UPDATE api_token SET last_used = ? WHERE id = ? AND last_used < ?", [now, token_id, now])
