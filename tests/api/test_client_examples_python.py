"""client-examples/python/campaign_feed.py (gql), run as a user would against a real `stepwise
serve`: it plays a campaign to COMPLETED while following taskUpdates over the websocket, drops
its connection halfway and resumes from its last cursor; it checks its feed against every task's
events itself, and the campaign it announces is there, COMPLETED, for its manager."""

import subprocess
import sys

import httpx

from tests.conftest import ROOT, free_port

SCRIPT = ROOT / "client-examples" / "python" / "campaign_feed.py"
CAMPAIGNS = "{ organizations { name campaigns { edges { node { status progress { done skipped totalTasks } } } } } }"


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_the_feed_script_plays_a_campaign_and_resumes_its_subscription(live_server):
    result = run_script("--url", f"{live_server}/graphql", "--suffix", "feed", "--drop-after", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    out = result.stdout
    assert "campaign launched: 6 tasks (Annotate 5, Review 1)" in out
    assert "[feed] dropping the connection after 3 updates (on purpose)" in out
    assert "[feed] subscribing again after cursor " in out
    assert "campaign COMPLETED: 5 done, 1 skipped" in out
    assert "followed 18 task updates, resumed 1 time(s) after a dropped connection: none missed, none repeated" in out

    login = httpx.post(f"{live_server}/graphql", timeout=30, json={
        "query": "mutation($i: LogInInput!) { logIn(input: $i) { token } }",
        "variables": {"i": {"username": "manager-feed", "password": "campaign-Feed-2024"}}}).json()
    token = login["data"]["logIn"]["token"]
    answer = httpx.post(f"{live_server}/graphql", json={"query": CAMPAIGNS}, timeout=30,
                        headers={"authorization": f"Bearer {token}"}).json()
    [organization] = answer["data"]["organizations"]
    assert organization["name"] == "Feed feed"
    assert [edge["node"] for edge in organization["campaigns"]["edges"]] == [
        {"status": "COMPLETED", "progress": {"done": 5, "skipped": 1, "totalTasks": 6}}]

    again = run_script("--url", f"{live_server}/graphql", "--suffix", "feed")
    assert again.returncode == 1
    assert "error: signUp by manager-feed was refused: ALREADY_EXISTS at input.username" in again.stderr
    assert "Traceback" not in again.stderr


def test_the_feed_script_says_when_the_server_is_unreachable():
    result = run_script("--url", f"http://127.0.0.1:{free_port()}/graphql")
    assert result.returncode == 2
    assert "cannot reach" in result.stderr and "stepwise serve" in result.stderr
    assert "Traceback" not in result.stderr
