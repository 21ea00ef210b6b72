"""What the browser tests share: the demo's credentials, a GraphQL call over HTTP, and pages
that may reach only this machine."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import httpx

CHROMIUM = "/usr/bin/chromium"
DEMO_PASSWORD = "stepwise-demo-2026"


def graphql(base: str, query: str, variables: dict | None = None, token: str | None = None) -> dict:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(f"{base}/graphql", json={"query": query, "variables": variables or {}}, headers=headers, timeout=30)
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


def log_in(base: str, username: str) -> str:
    payload = graphql(base, "mutation($i: LogInInput!) { logIn(input: $i) { token errors { code } } }",
                      {"i": {"username": username, "password": DEMO_PASSWORD}})["logIn"]
    assert payload["errors"] == [], payload
    return payload["token"]


def loopback_page(browser):
    """A new page whose HTTP requests may reach only 127.0.0.1; the others are aborted and listed
    in the returned list (which a test expects empty)."""
    page = browser.new_page()
    blocked: list[str] = []

    def only_loopback(route):
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", only_loopback)
    return page, blocked


def screenshot(page, tmp_path: Path, name: str) -> Path:
    """Into the test's tmp dir; and a copy into $STEPWISE_TEST_SCREENSHOTS when set (the docs'
    images are made this way: scripts/screenshots.sh)."""
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("STEPWISE_TEST_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["STEPWISE_TEST_SCREENSHOTS"], name), full_page=True)
    return path
