"""The annotator's queue page (client-examples/worker/, served at /worker/) in a real browser that
may reach only this machine, against `stepwise serve` with demo data: a labeler opens a task,
draws a box, saves and submits it; a change made elsewhere meanwhile is refused with CONFLICT,
which the page explains before reloading the task; and a task is skipped with an issue."""

from __future__ import annotations

from browser_helpers import DEMO_PASSWORD, graphql, log_in, loopback_page, screenshot
from playwright.sync_api import expect

TASK = "query($t: ID!) { task(id: $t) { version status step { name } annotation { shapes { label { name } points { x y } } } } }"
SAVE = """mutation($i: SaveAnnotationInput!) { saveAnnotation(input: $i) { task { version } errors { code } } }"""
ISSUES = "query($t: ID!) { task(id: $t) { issues { kind status comments { body } } } }"


def test_worker_saves_submits_skips_and_explains_a_conflict(browser, demo_server, tmp_path):
    page, blocked = loopback_page(browser)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{demo_server}/worker/")
    page.fill("#login [name=username]", "lou")
    page.fill("#login [name=password]", DEMO_PASSWORD)
    page.click("#login button[type=submit]")
    expect(page.locator("#login")).to_be_hidden()
    queue = page.locator("#groups li")
    expect(page.locator("#queue-count")).not_to_have_text("")
    count = queue.count()
    assert count > 2

    # Open the first task, draw a box, save: the version moves on.
    first = queue.first
    task_id = first.get_attribute("data-task")
    first.get_by_role("button").click()
    expect(page.locator("#task-title")).to_have_text(first.get_by_role("button").inner_text())
    expect(page.locator("#image-link")).to_contain_text("https://images.example.com/")
    version = int(page.locator("#task").get_attribute("data-version"))
    page.click("#add-box")
    row = page.locator("#shapes tbody tr").last
    row.locator("[name=label]").select_option("person")
    for name, value in (("x1", "20"), ("y1", "30"), ("x2", "220"), ("y2", "330")):
        row.locator(f"[name={name}]").fill(value)
    page.click("#save")
    expect(page.locator("#message")).to_contain_text("Saved")
    expect(page.locator("#task")).to_have_attribute("data-version", str(version + 1))
    lou = log_in(demo_server, "lou")
    saved = graphql(demo_server, TASK, {"t": task_id}, lou)["task"]
    assert saved["annotation"]["shapes"][-1] == {"label": {"name": "person"},
                                                 "points": [{"x": 20.0, "y": 30.0}, {"x": 220.0, "y": 330.0}]}

    # The same task is changed elsewhere (another tab): the page's version is stale now.
    elsewhere = graphql(demo_server, SAVE, {"i": {"taskId": task_id, "shapes": [], "expectedVersion": version + 1}}, lou)
    assert elsewhere["saveAnnotation"]["errors"] == []
    page.click("#submit")
    expect(page.locator("#message")).to_have_attribute("data-kind", "conflict")
    expect(page.locator("#message")).to_contain_text("Someone changed this task")
    expect(page.locator("#task")).to_have_attribute("data-version", str(version + 2))
    expect(page.locator("#shapes tbody tr")).to_have_count(0)  # reloaded: what the other tab saved
    assert graphql(demo_server, TASK, {"t": task_id}, lou)["task"]["status"] == "IN_PROGRESS"
    screenshot(page, tmp_path, "worker-conflict.png")

    # Draw again and submit: the task leaves the queue.
    page.click("#add-box")
    page.click("#submit")
    expect(page.locator("#message")).to_contain_text("Submitted")
    expect(queue).to_have_count(count - 1)
    max_token = log_in(demo_server, "max")
    submitted = graphql(demo_server, TASK, {"t": task_id}, max_token)["task"]
    assert submitted["step"] == {"name": "Review"}

    # Skip the next one with an issue.
    skipped_id = queue.first.get_attribute("data-task")
    queue.first.get_by_role("button").click()
    page.fill("#skip [name=body]", "Too dark to see anything.")
    page.click("#skip button[type=submit]")
    expect(page.locator("#message")).to_contain_text("Skipped")
    expect(queue).to_have_count(count - 2)
    assert graphql(demo_server, ISSUES, {"t": skipped_id}, max_token)["task"]["issues"] == [
        {"kind": "IMAGE", "status": "OPEN", "comments": [{"body": "Too dark to see anything."}]}]
    assert graphql(demo_server, TASK, {"t": skipped_id}, max_token)["task"]["status"] == "SKIPPED"
    # Only the asset images (outside this machine) were blocked.
    assert errors == [] and all(url.startswith("https://images.example.com/") for url in blocked)
    page.close()
