"""The live campaign dashboard (client-examples/dashboard/, served at /dashboard/) in a real
browser that may reach only this machine, against `stepwise serve` with demo data: a manager
signs in, tasks are submitted through the API and the page follows without a reload; its
websocket is dropped (the test relays it and cuts it) while work goes on, and when it comes back
the feed shows every change once, none missed and none repeated."""

from __future__ import annotations

import re
import threading

from browser_helpers import DEMO_PASSWORD, graphql, log_in, loopback_page, screenshot
from playwright.sync_api import expect

ORGANIZATION = "{ organizations { id } }"
MY_TASKS = "query($o: ID!) { myTasks(organizationId: $o) { tasks { id version asset { filename } } } }"
SUBMIT = """mutation($i: SubmitTaskInput!) { submitTask(input: $i) { task { status } errors { code message } } }"""
SKIP = """mutation($i: SkipTaskInput!) { skipTask(input: $i) { task { status } errors { code message } } }"""
RESOLVE = """mutation($i: CommentIssueInput!) { resolveIssue(input: $i) { issue { status } errors { code message } } }"""
ISSUES_OF = "query($t: ID!) { task(id: $t) { issues { id } } }"
BOX = [{"label": "car", "kind": "RECTANGLE", "points": [{"x": 10, "y": 10}, {"x": 90, "y": 60}]}]


def act(base: str, mutation: str, payload: str, variables: dict, token: str) -> None:
    result = graphql(base, mutation, {"i": variables}, token)[payload]
    assert result["errors"] == [], result


class Relay:
    """Carries the page's websockets to the server, and can cut them: `drop()` closes every open
    one (1012, as a restarting server does) and refuses new ones until `restore()`."""

    def __init__(self, page) -> None:
        self.open: list[tuple] = []
        self.down = threading.Event()
        page.route_web_socket("**/graphql", self._connect)

    def _connect(self, socket) -> None:
        if self.down.is_set():
            socket.close(code=1013, reason="try again later")
            return
        self.open.append((socket, socket.connect_to_server()))

    def drop(self) -> None:
        self.down.set()
        for page_side, server_side in self.open:
            page_side.close(code=1012, reason="dropped by the test")
            server_side.close()
        self.open.clear()

    def restore(self) -> None:
        self.down.clear()


def test_dashboard_follows_a_campaign_live_and_resumes_after_a_dropped_connection(browser, demo_server, tmp_path):
    page, blocked = loopback_page(browser)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    relay = Relay(page)
    page.goto(f"{demo_server}/dashboard/")
    page.fill("#login [name=username]", "max")
    page.fill("#login [name=password]", DEMO_PASSWORD)
    page.click("#login button[type=submit]")
    expect(page.locator("#login")).to_be_hidden()
    expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=20_000)
    expect(page.locator("#campaign option")).to_have_count(1)
    page.evaluate("window.sameDocument = true")  # gone if the page reloads

    annotate = page.locator("#steps tr[data-step=Annotate] .count")
    before = int(annotate.inner_text())
    feed = page.locator("#feed-list li")
    expect(feed).to_have_count(0)
    throughput = page.locator("#throughput-total")
    annotations, reviews = map(int, re.findall(r"\d+", throughput.inner_text()))

    cora = log_in(demo_server, "cora")
    organization = graphql(demo_server, ORGANIZATION, token=cora)["organizations"][0]["id"]
    [group] = graphql(demo_server, MY_TASKS, {"o": organization}, cora)["myTasks"]
    first, second, third, fourth = group["tasks"][:4]

    # A submission through the API: the progress and the feed change in place.
    act(demo_server, SUBMIT, "submitTask", {"taskId": first["id"], "shapes": BOX}, cora)
    expect(feed).to_have_count(1)
    expect(feed.first).to_contain_text(f"SUBMITTED {first['asset']['filename']} by cora")
    expect(annotate).to_have_text(str(before - 1))

    # The connection drops; meanwhile a task is submitted and another skipped with an issue.
    relay.drop()
    expect(page.locator("#connection")).to_have_attribute("data-state", "reconnecting")
    act(demo_server, SUBMIT, "submitTask", {"taskId": second["id"], "shapes": BOX}, cora)
    act(demo_server, SKIP, "skipTask", {"taskId": third["id"], "issue": {"kind": "IMAGE", "body": "Too dark."}}, cora)
    [issue] = graphql(demo_server, ISSUES_OF, {"t": third["id"]}, log_in(demo_server, "max"))["task"]["issues"]
    page.wait_for_timeout(300)  # let a reconnection attempt or two be refused
    expect(feed).to_have_count(1)
    relay.restore()
    expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=20_000)

    # Once back: what happened meanwhile, then live changes, each once.
    expect(page.locator(f"#issue-list li[data-issue='{issue['id']}']")).to_contain_text("IMAGE issue by cora")
    act(demo_server, SUBMIT, "submitTask", {"taskId": fourth["id"], "shapes": BOX}, cora)
    act(demo_server, RESOLVE, "resolveIssue", {"issueId": issue["id"]}, log_in(demo_server, "max"))
    expect(page.locator(f"#issue-list li[data-issue='{issue['id']}']")).to_have_count(0)
    expect(feed).to_have_count(6)
    texts = page.locator("#feed-list li .what").all_inner_texts()
    name = {task["id"]: task["asset"]["filename"] for task in (first, second, third, fourth)}
    third_name = name[third["id"]]
    assert sorted(text.split(" by ")[0] for text in texts) == sorted([
        f"SUBMITTED {name[first['id']]}", f"SUBMITTED {name[second['id']]}", f"SKIPPED {third_name}",
        f"SUBMITTED {name[fourth['id']]}", f"issue CREATED on {third_name}", f"issue RESOLVED on {third_name}",
    ])
    cursors = page.locator("#feed-list li").evaluate_all("items => items.map((item) => item.dataset.cursor)")
    assert len(set(cursors)) == 6
    expect(annotate).to_have_text(str(before - 4))  # three submitted on to Review, one skipped out
    assert page.evaluate("window.sameDocument") is True
    # Analytics have no stream: the page reads them again after submissions (three here).
    expect(throughput).to_have_text(f"{annotations + 3} annotation and {reviews} review submissions")
    screenshot(page, tmp_path, "dashboard.png")
    assert blocked == [] and errors == []
    page.close()
