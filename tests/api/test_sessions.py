"""Sessions: log-in throttling per account and per address (counted in the database, so every
process sees the same counts), and tokens that expire after an idle time."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from conftest import _app_api

from stepwise.models.db import sql

LOG_IN = "mutation($i: LogInInput!) { logIn(input: $i) { token errors { code message } } }"
ME = "{ me { username } }"


@pytest.fixture
async def strict_api(settings_env):
    """The API with small limits: 3 failures per account, 5 per address, in 15 minutes."""
    env = {**settings_env, "STEPWISE_LOGIN_MAX_FAILURES": "3", "STEPWISE_LOGIN_MAX_FAILURES_PER_ADDRESS": "5"}
    async for api in _app_api(env):
        yield api


async def log_in(api, username: str, password: str, address: str = "127.0.0.1"):
    """logIn from a client at `address` (the socket's peer, as the ASGI server reports it)."""
    transport = httpx.ASGITransport(app=api.client._transport.app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/graphql", json={"query": LOG_IN, "variables": {
            "i": {"username": username, "password": password}}})
    return response, response.json()["data"]["logIn"]


async def test_an_account_is_throttled_after_its_failures_and_a_success_starts_afresh(strict_api):
    api = strict_api
    await api.sign_up("ada")
    await api.sign_up("bob")
    for _ in range(3):  # within the limit: the usual answer
        response, payload = await log_in(api, "ada", "wrong password")
        assert response.status_code == 200 and payload["errors"][0]["code"] == "INVALID_CREDENTIALS"
    response, payload = await log_in(api, "ada", "correct horse battery")  # the 4th attempt: refused
    assert response.status_code == 429 and payload["token"] is None
    assert payload["errors"][0]["code"] == "INVALID_CREDENTIALS"  # says nothing of the account
    assert 1 <= int(response.headers["retry-after"]) <= 15 * 60
    # An unknown account is throttled the same way (nothing tells the two apart).
    for _ in range(3):
        await log_in(api, "nobody", "x")
    response, payload = await log_in(api, "nobody", "x")
    assert response.status_code == 429 and payload["errors"][0]["code"] == "INVALID_CREDENTIALS"
    # Another account from the same address is not locked by ada's count (the address has had
    # 8 attempts; its limit of 5 holds back only what comes after: see the next test).

    # The window ends: ada may try again, and a success resets her count.
    await sql.execute("UPDATE login_failures SET window_started = window_started - 900 WHERE key = 'user:ada'")
    await sql.execute("UPDATE login_failures SET failures = 0 WHERE key LIKE 'address:%'")
    response, payload = await log_in(api, "ada", "correct horse battery")
    assert response.status_code == 200 and payload["token"].startswith("swt_")
    assert (await api.data(ME, token=payload["token"]))["me"] == {"username": "ada"}
    assert await sql.fetch("SELECT failures FROM login_failures WHERE key = 'user:ada'") == []


async def test_an_address_is_throttled_across_accounts(strict_api):
    api = strict_api
    for name in ("ada", "bob", "cyd"):
        await api.sign_up(name)
    attempts = [("ada", "x"), ("bob", "x"), ("cyd", "x"), ("ada", "x"), ("bob", "x")]
    for username, password in attempts:  # 5 failures from one address, at most 2 per account
        response, _ = await log_in(api, username, password, address="203.0.113.9")
        assert response.status_code == 200
    response, payload = await log_in(api, "cyd", "correct horse battery", address="203.0.113.9")
    assert response.status_code == 429 and payload["errors"][0]["code"] == "INVALID_CREDENTIALS"
    # Another address is not held back.
    response, payload = await log_in(api, "cyd", "correct horse battery", address="198.51.100.7")
    assert response.status_code == 200 and payload["token"]


async def test_concurrent_attempts_cannot_slip_past_the_limit_together(strict_api):
    api = strict_api
    await api.sign_up("ada")
    answers = await asyncio.gather(*(log_in(api, "ada", "wrong", address=f"192.0.2.{n}") for n in range(8)))
    # (eight addresses: only the account's limit of 3 applies)
    assert sorted(response.status_code for response, _ in answers) == [200] * 3 + [429] * 5


async def test_a_token_expires_after_the_idle_time_and_use_keeps_it_alive(api):
    token, _ = await api.sign_up("ada")
    assert (await api.data(ME, token=token))["me"] == {"username": "ada"}
    # Used 29 days ago: still valid, and this use is recorded.
    await sql.execute("UPDATE api_token SET last_used = ?", [int(time.time()) - 29 * 86400])
    assert (await api.data(ME, token=token))["me"] == {"username": "ada"}
    (last_used,), = await sql.fetch("SELECT last_used FROM api_token")
    assert time.time() - last_used < 60
    # Unused for over 30 days (the default): anonymous, as an unknown token.
    await sql.execute("UPDATE api_token SET last_used = ?", [int(time.time()) - 31 * 86400])
    assert (await api.data(ME, token=token))["me"] is None
    body = await api.post("{ organizations { id } }", token=token)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_counts_whose_window_ended_are_purged_and_live_ones_stay(strict_api):
    """Expired rows of login_failures are deleted (by the housekeeping job every window), those
    still in their window stay and keep counting."""
    from stepwise.housekeeping import run_housekeeping
    from stepwise.models.actions.sessions import purge_expired_failures
    from stepwise.permissions.session_rules import SessionRules

    api = strict_api
    await api.sign_up("ada")
    for username, address in (("ada", "203.0.113.9"), ("old1", "198.51.100.7"), ("old2", "198.51.100.7")):
        await log_in(api, username, "wrong", address=address)
    rules = SessionRules(max_failures_per_account=3, max_failures_per_address=5)
    # Two names and one address tried more than a window ago; ada and her address in this window.
    await sql.execute("UPDATE login_failures SET window_started = window_started - 901"
                      " WHERE key IN ('user:old1', 'user:old2', 'address:198.51.100.7')")
    assert await purge_expired_failures(rules) == 3
    keys = sorted(row[0] for row in await sql.fetch("SELECT key FROM login_failures"))
    assert keys == ["address:203.0.113.9", "user:ada"]
    assert await purge_expired_failures(rules) == 0  # a second process's purge finds nothing
    # Ada's live count still counts: two more failures, and the next attempt is refused.
    for _ in range(2):
        await log_in(api, "ada", "wrong", address="203.0.113.9")
    response, _ = await log_in(api, "ada", "correct horse battery", address="203.0.113.9")
    assert response.status_code == 429
    # The job itself: with a short interval it purges without being asked.
    await sql.execute("UPDATE login_failures SET window_started = window_started - 901")
    job = asyncio.create_task(run_housekeeping(rules, interval_seconds=0.05))
    try:
        for _ in range(100):
            if not await sql.fetch("SELECT key FROM login_failures"):
                break
            await asyncio.sleep(0.05)
    finally:
        job.cancel()
    assert await sql.fetch("SELECT key FROM login_failures") == []
