"""client-examples/campaign_story.py, run as a user would against a real `stepwise serve`, takes a
campaign from launch to COMPLETED; afterwards the manager finds, through the API, exactly what the
story says happened: statuses, progress, the reworked task's events and history, the issue threads
and every asset's accepted annotation. And the script fails loudly when it should."""

import json
import subprocess
import sys

import httpx

from tests.conftest import ROOT, free_port

SCRIPT = ROOT / "client-examples" / "campaign_story.py"

LOG_IN = "mutation($i: LogInInput!) { logIn(input: $i) { token errors { code } } }"
CAMPAIGN = """query($c: ID!) { campaign(id: $c) { status launchedAt completedAt preexistingAnnotationStrategy
  steps { name type assignees { username } }
  progress { totalTasks inProgress toRework done skipped percent byStep { step { name } count } }
  tasks(first: 100) { totalCount edges { node { id status step { name } assignee { username } asset { filename } } } }
  issues(first: 100) { totalCount edges { node { kind status zone { x y width height } author { username }
    step { name } resolvedAt resolvedBy { username } asset { filename }
    comments { author { username } action body } } } } } }"""
TASK = """query($t: ID!) { task(id: $t) { status step { name } assignee { username } openIssueCount
  asset { filename }
  history { step { name } state assignee { username } submittedAt annotation { shapes { kind label { name } area } } }
  events { kind step { name } actor { username } assignee { username } at } } }"""
ASSETS = """query($v: ID!) { datasetVersion(id: $v) { assets(first: 100) { edges { node { filename
  annotation { shapes { kind label { name } area points { x y } } } } } } } }"""
MY_TASKS = "query($o: ID!) { myTasks(organizationId: $o) { tasks { id } } }"


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], check=False, capture_output=True, text=True, timeout=120, cwd=ROOT
    )


def graphql(base: str, query: str, variables: dict | None = None, token: str | None = None) -> dict:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(f"{base}/graphql", json={"query": query, "variables": variables or {}}, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


def log_in(base: str, username: str, password: str) -> str:
    payload = graphql(base, LOG_IN, {"i": {"username": username, "password": password}})["logIn"]
    assert payload["errors"] == [], payload
    return payload["token"]


def shapes(annotation: dict | None) -> list[tuple[str, str, float]] | None:
    if annotation is None:
        return None
    return [(s["kind"], s["label"]["name"], s["area"]) for s in annotation["shapes"]]


def test_campaign_story_runs_to_completion(live_server, tmp_path):
    summary_path = tmp_path / "summary.json"
    result = run_script("--url", f"{live_server}/graphql", "--suffix", "story", "--json-summary", str(summary_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    out = result.stdout
    assert "campaign.tasks as the labeler: FORBIDDEN" in out
    assert "refused as expected: code=OPEN_ISSUES" in out
    assert "street-000.jpg: TO_REWORK at Annotate, back to labeler-story who submitted it" in out
    assert "campaign COMPLETED: 100.0% of step submissions made; 8 tasks: 0 in progress, 0 to rework, 7 done, 1 skipped" in out

    summary = json.loads(summary_path.read_text())
    assert summary["manager"]["username"] == "manager-story"
    manager = log_in(live_server, summary["manager"]["username"], summary["manager"]["password"])
    names = {"manager": "manager-story", "contributor": "contributor-story", "labeler": "labeler-story"}
    assert summary["usernames"] == names
    M, C, L = names["manager"], names["contributor"], names["labeler"]

    campaign = graphql(live_server, CAMPAIGN, {"c": summary["campaignId"]}, manager)["campaign"]
    assert campaign["status"] == "COMPLETED"
    assert campaign["launchedAt"] and campaign["completedAt"] and campaign["completedAt"] >= campaign["launchedAt"]
    assert campaign["preexistingAnnotationStrategy"] == "FIRST_QUALITY_CHECK"
    assert [(s["name"], s["type"], [a["username"] for a in s["assignees"]]) for s in campaign["steps"]] == [
        ("Annotate", "ANNOTATION", [L, C]), ("Review", "REVIEW", [M])]
    assert campaign["progress"] == {
        "totalTasks": 8, "inProgress": 0, "toRework": 0, "done": 7, "skipped": 1, "percent": 100.0,
        "byStep": [{"step": {"name": "Annotate"}, "count": 0}, {"step": {"name": "Review"}, "count": 0}],
    }

    # The Tasks list: every asset DONE but the skipped one; finished tasks have no step nor assignee.
    tasks = {e["node"]["asset"]["filename"]: e["node"] for e in campaign["tasks"]["edges"]}
    assert campaign["tasks"]["totalCount"] == 8
    assert {name: t["status"] for name, t in tasks.items()} == {
        **{f"street-{i:03d}.jpg": "DONE" for i in range(8)}, "street-007.jpg": "SKIPPED"}
    assert all(t["step"] is None and t["assignee"] is None for t in tasks.values())
    assert tasks["street-000.jpg"]["id"] == summary["reworkedTaskId"]
    assert tasks["street-007.jpg"]["id"] == summary["skippedTaskId"]

    # The reworked task: annotated by the labeler, sent back, reworked, accepted.
    task = graphql(live_server, TASK, {"t": summary["reworkedTaskId"]}, manager)["task"]
    assert task["status"] == "DONE" and task["step"] is None and task["assignee"] is None
    assert task["asset"]["filename"] == "street-000.jpg" and task["openIssueCount"] == 0
    events = [(e["kind"], e["step"] and e["step"]["name"], e["actor"] and e["actor"]["username"],
               e["assignee"] and e["assignee"]["username"]) for e in task["events"]]
    assert events == [
        ("CREATED", "Annotate", M, L),
        ("STARTED", "Annotate", L, L),
        ("SUBMITTED", "Annotate", L, M),
        ("SENT_TO_REWORK", "Review", M, L),
        ("STARTED", "Annotate", L, L),
        ("SUBMITTED", "Annotate", L, M),
        ("SUBMITTED", "Review", M, None),
        ("DONE", "Review", M, None),
    ]
    times = [e["at"] for e in task["events"]]
    assert times == sorted(times)
    reworked = [("RECTANGLE", "car", 360.0 * 170)]
    assert [(h["step"]["name"], h["state"], h["assignee"]["username"], shapes(h["annotation"]))
            for h in task["history"]] == [("Annotate", "DONE", L, reworked), ("Review", "DONE", M, reworked)]
    # Each step shows its last submission: the resubmission after rework, then the accepting review.
    assert task["history"][0]["submittedAt"] == times[5]
    assert task["history"][1]["submittedAt"] == times[6]

    # The issue threads: the rework's, answered and resolved; the skip's, left open on the skipped asset.
    assert campaign["issues"]["totalCount"] == 2
    issues = {e["node"]["asset"]["filename"]: e["node"] for e in campaign["issues"]["edges"]}
    rework_issue = issues["street-000.jpg"]
    assert (rework_issue["kind"], rework_issue["status"], rework_issue["zone"]) == ("IMAGE", "RESOLVED", None)
    assert rework_issue["author"]["username"] == M and rework_issue["step"] == {"name": "Review"}
    assert rework_issue["resolvedAt"] and rework_issue["resolvedBy"] == {"username": M}
    assert [(c["action"], c["author"]["username"], c["body"]) for c in rework_issue["comments"]] == [
        ("OPENED", M, "The car is cut off on the left: draw the box around the whole car."),
        ("REPLIED", L, "Right, the box now covers the whole car."),
        ("RESOLVED", M, "Looks right now, thanks."),
    ]
    skip_issue = issues["street-007.jpg"]
    assert (skip_issue["kind"], skip_issue["status"], skip_issue["resolvedAt"]) == ("ZONE", "OPEN", None)
    assert skip_issue["zone"] == {"x": 600.0, "y": 100.0, "width": 300.0, "height": 250.0}
    assert skip_issue["step"] == {"name": "Review"}
    assert [(c["action"], c["author"]["username"]) for c in skip_issue["comments"]] == [("OPENED", M)]

    # Each asset's accepted annotation: what finished the workflow; nothing for the skipped one.
    edges = graphql(live_server, ASSETS, {"v": summary["datasetVersionId"]}, manager)["datasetVersion"]["assets"]["edges"]
    annotations = {e["node"]["filename"]: e["node"]["annotation"] for e in edges}
    drawn = [("RECTANGLE", "car", 300.0 * 150)]
    preexisting = [("RECTANGLE", "car", 280.0 * 140), ("RECTANGLE", "person", 60.0 * 170)]
    assert {name: shapes(a) for name, a in annotations.items()} == {
        "street-000.jpg": reworked,
        "street-001.jpg": drawn,
        "street-002.jpg": preexisting,  # accepted as it was at the first quality check
        "street-003.jpg": drawn,
        "street-004.jpg": drawn,
        "street-005.jpg": preexisting + [("RECTANGLE", "bicycle", 120.0 * 80)],  # edited by the reviewer
        "street-006.jpg": drawn,
        "street-007.jpg": None,  # skipped, and it had no pre-existing annotation
    }
    assert annotations["street-000.jpg"]["shapes"][0]["points"] == [{"x": 80.0, "y": 190.0}, {"x": 440.0, "y": 360.0}]
    assert annotations["street-003.jpg"]["shapes"][0]["points"] == [{"x": 160.0, "y": 200.0}, {"x": 460.0, "y": 350.0}]

    # Nobody has anything left to do.
    for username in (M, C, L):
        token = log_in(live_server, username, summary["manager"]["password"])
        groups = graphql(live_server, MY_TASKS, {"o": summary["organizationId"]}, token)["myTasks"]
        assert [t for g in groups for t in g["tasks"]] == [], username

    # A second run with the same suffix stops at once, explaining why.
    again = run_script("--url", f"{live_server}/graphql", "--suffix", "story")
    assert again.returncode == 1
    assert "error: signUp by manager-story was refused: ALREADY_EXISTS at input.username" in again.stderr
    assert "Traceback" not in again.stderr


def test_campaign_story_says_when_the_server_is_unreachable(tmp_path):
    summary_path = tmp_path / "summary.json"
    result = run_script("--url", f"http://127.0.0.1:{free_port()}/graphql", "--json-summary", str(summary_path))
    assert result.returncode == 2
    assert "error: cannot reach" in result.stderr and "stepwise serve" in result.stderr
    assert "Traceback" not in result.stderr
    assert not summary_path.exists()
