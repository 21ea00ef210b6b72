"""GraphiQL in a real browser (Debian's chromium driven by playwright), offline: every request
outside this machine is blocked, the page renders from the server's own assets and runs a query
against a real uvicorn with demo data; a subscription sends the headers pane as connection_init."""

from __future__ import annotations

import json
import os
from urllib.parse import quote

from browser_helpers import log_in, loopback_page

QUERY = "query Campaigns { me { username } organizations { name campaigns(first: 5) { totalCount edges { node { status } } } } }"


def offline_page(browser, base: str, token: str):
    """A page whose requests may reach only the test server, with the headers pane holding the
    token (as GraphiQL persists it: shouldPersistHeaders)."""
    page, blocked = loopback_page(browser)
    headers = json.dumps({"Authorization": f"Bearer {token}"})
    page.add_init_script(f"localStorage.setItem('graphiql:headers', {json.dumps(headers)});")
    return page, blocked


def test_graphiql_renders_offline_and_runs_a_query(browser, demo_server, tmp_path):
    page, blocked = offline_page(browser, demo_server, log_in(demo_server, "max"))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Anything the page's content security policy refused shows up on the console.
    page.on("console", lambda message: errors.append(message.text) if "Content Security Policy" in message.text else None)
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
