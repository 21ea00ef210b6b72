"""GraphiQL in a real browser (Debian's chromium driven by playwright), offline: every request
outside this machine is blocked, the page renders from the server's own assets and runs a query
against a real uvicorn with demo data; a subscription sends the headers pane as connection_init."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest

from conftest import ROOT, running_server

CHROMIUM = "/usr/bin/chromium"
DEMO_PASSWORD = "stepwise-demo-2026"
QUERY = "query Campaigns { me { username } organizations { name campaigns(first: 5) { totalCount edges { node { status } } } } }"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing in CI: .ci/run installs Debian's chromium")
        pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    """`stepwise demo`, then `stepwise serve` on the same data directory."""
    env = {"STEPWISE_DATA_DIR": str(tmp_path_factory.mktemp("demo"))}
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STEPWISE_")}
    loaded = subprocess.run([sys.executable, "-m", "stepwise", "demo"], env={**clean, **env}, cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    with running_server(env) as base:
        yield base


def log_in(base: str, username: str) -> str:
    response = httpx.post(f"{base}/graphql", timeout=30, json={
        "query": "mutation($i: LogInInput!) { logIn(input: $i) { token } }",
        "variables": {"i": {"username": username, "password": DEMO_PASSWORD}}})
    return response.json()["data"]["logIn"]["token"]


def offline_page(browser, base: str, token: str):
    """A page whose requests may reach only the test server, with the headers pane holding the
    token (as GraphiQL persists it: shouldPersistHeaders)."""
    page = browser.new_page()
    blocked: list[str] = []

    def only_loopback(route):
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", only_loopback)
    headers = json.dumps({"Authorization": f"Bearer {token}"})
    page.add_init_script(f"localStorage.setItem('graphiql:headers', {json.dumps(headers)});")
    return page, blocked


def test_graphiql_renders_offline_and_runs_a_query(browser, demo_server, tmp_path):
    page, blocked = offline_page(browser, demo_server, log_in(demo_server, "max"))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{demo_server}/graphql?q={quote(QUERY)}")
    page.wait_for_selector(".graphiql-execute-button", timeout=30_000)
    page.click(".graphiql-execute-button")
    response = page.locator(".graphiql-response")
    response.get_by_text("Acme Vision (demo)").wait_for(timeout=30_000)
    answer = response.inner_text()
    assert '"username": "max"' in answer and '"totalCount": 1' in answer and '"status": "ONGOING"' in answer
    # The headers pane shows what the requests carried; the explorer plugin is there.
    page.get_by_role("button", name="Headers").click()
    assert "Authorization" in page.locator(".graphiql-editor-tool").inner_text()
    page.get_by_label("Show GraphiQL Explorer").click()
    page.locator(".graphiql-explorer-root").first.wait_for(timeout=10_000)
    page.screenshot(path=str(tmp_path / "graphiql.png"), full_page=True)
    if os.environ.get("STEPWISE_TEST_SCREENSHOTS"):  # a copy to look at, e.g. for the docs
        page.screenshot(path=os.environ["STEPWISE_TEST_SCREENSHOTS"] + "/graphiql.png", full_page=True)
    assert (tmp_path / "graphiql.png").stat().st_size > 10_000
    assert blocked == [] and errors == []
    page.close()


def test_a_subscription_sends_the_headers_pane_as_connection_init(browser, demo_server, tmp_path):
    token = log_in(demo_server, "max")
    page, blocked = offline_page(browser, demo_server, token)
    sent: list[dict] = []
    page.on("websocket", lambda socket: socket.on("framesent", lambda payload: sent.append(json.loads(payload))))
    page.goto(f"{demo_server}/graphql?q={quote('subscription { notifications { kind } }')}")
    page.wait_for_selector(".graphiql-execute-button", timeout=30_000)
    with page.expect_websocket(timeout=30_000) as opened:
        page.click(".graphiql-execute-button")
    assert opened.value.url == demo_server.replace("http", "ws") + "/graphql"
    if not sent:  # the first frame may already be in
        opened.value.wait_for_event("framesent", timeout=10_000)
    assert sent[0] == {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
    page.screenshot(path=str(tmp_path / "graphiql-subscription.png"))
    assert blocked == []
    page.close()
