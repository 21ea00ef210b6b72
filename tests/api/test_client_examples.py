"""client-examples/onboarding.py, run as a user would against a real `stepwise serve`, leaves the
organization, people, dataset and assets it announces; and fails loudly when it should."""

import subprocess
import sys

import httpx

from tests.conftest import ROOT, free_port

SCRIPT = ROOT / "client-examples" / "onboarding.py"
PASSWORD = "onboarding-Example-2024"

LOG_IN = "mutation($i: LogInInput!) { logIn(input: $i) { token errors { code } } }"
SIGN_UP = "mutation($i: SignUpInput!) { signUp(input: $i) { token errors { code field } } }"
ORGANIZATIONS = """{ organizations { id name viewerRole
  members { user { username } role }
  invitations { email role }
  datasets { name viewerRole workers { user { username } role }
    versions { id name assetCount labels { name } } } } }"""
ASSETS = """query($id: ID!) { datasetVersion(id: $id) { assets(first: 100) { totalCount
  edges { node { filename width height url annotation { shapes { kind area label { name } } } } } } } }"""


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=90, cwd=ROOT
    )


def graphql(base: str, query: str, variables: dict | None = None, token: str | None = None) -> dict:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(f"{base}/graphql", json={"query": query, "variables": variables or {}}, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


def log_in(base: str, username: str) -> str:
    payload = graphql(base, LOG_IN, {"i": {"username": username, "password": PASSWORD}})["logIn"]
    assert payload["errors"] == [], payload
    return payload["token"]


def test_onboarding_script_sets_up_a_team(live_server):
    result = run_script("--url", f"{live_server}/graphql", "--suffix", "acme")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    out = result.stdout
    # The bad batch is explained with its typed error, and shown to have added nothing.
    assert "refused: code=INVALID_INPUT field=input.assets.1.width" in out
    assert "assetCount is still 0" in out
    assert "page 3: 2 asset(s)" in out and "12/12 seen" in out

    # The admin signs in with the credentials the script announced and finds everything.
    admin = log_in(live_server, "admin-acme")
    organizations = graphql(live_server, ORGANIZATIONS, token=admin)["organizations"]
    assert len(organizations) == 1
    org = organizations[0]
    assert org["name"] == "Onboarding acme" and org["viewerRole"] == "ADMIN"
    assert sorted((m["user"]["username"], m["role"]) for m in org["members"]) == [
        ("admin-acme", "ADMIN"), ("colleague-acme", "MEMBER"),
    ]
    assert org["invitations"] == [{"email": "newcomer-acme@example.com", "role": "MEMBER"}]
    [dataset] = org["datasets"]
    assert dataset["name"] == "Street scenes" and dataset["viewerRole"] == "MANAGER"
    workers = {w["user"]["username"]: w["role"] for w in dataset["workers"]}
    assert workers["colleague-acme"] == "CONTRIBUTOR"
    assert set(workers) <= {"admin-acme", "colleague-acme"}  # the creator may be listed as MANAGER
    [version] = dataset["versions"]
    assert version["name"] == "v1" and version["assetCount"] == 12
    assert sorted(label["name"] for label in version["labels"]) == ["bicycle", "car", "person"]

    assets = graphql(live_server, ASSETS, {"id": version["id"]}, admin)["datasetVersion"]["assets"]
    assert assets["totalCount"] == 12
    nodes = [edge["node"] for edge in assets["edges"]]
    assert [n["filename"] for n in nodes] == [f"street-{i:03d}.jpg" for i in range(12)]
    annotated = [n for n in nodes if n["annotation"] is not None]
    assert [n["filename"] for n in annotated] == ["street-000.jpg", "street-003.jpg", "street-006.jpg", "street-009.jpg"]
    for node in annotated:
        shapes = node["annotation"]["shapes"]
        assert [(s["kind"], s["label"]["name"]) for s in shapes] == [("RECTANGLE", "car"), ("RECTANGLE", "person")]
        assert [s["area"] for s in shapes] == [300 * 150, 60 * 170]
    assert all(n["width"] == 1280 and n["height"] == 720 and n["url"].startswith("https://") for n in nodes)

    # The colleague sees the dataset as a CONTRIBUTOR.
    colleague = log_in(live_server, "colleague-acme")
    [seen] = graphql(live_server, ORGANIZATIONS.replace("invitations { email role }", ""), token=colleague)["organizations"]
    assert seen["viewerRole"] == "MEMBER"
    assert [(d["name"], d["viewerRole"], d["versions"][0]["assetCount"]) for d in seen["datasets"]] == [
        ("Street scenes", "CONTRIBUTOR", 12)
    ]

    # The invited address joins the organization when it signs up.
    newcomer = graphql(live_server, SIGN_UP, {"i": {"username": "newcomer", "email": "newcomer-acme@example.com",
                                                    "password": PASSWORD}})["signUp"]
    assert newcomer["errors"] == []
    orgs = graphql(live_server, "{ organizations { name viewerRole } }", token=newcomer["token"])["organizations"]
    assert orgs == [{"name": "Onboarding acme", "viewerRole": "MEMBER"}]
    org_after = graphql(live_server, "{ organizations { invitations { email } } }", token=admin)["organizations"][0]
    assert org_after["invitations"] == []


def test_onboarding_script_exits_non_zero_on_unexpected_errors(live_server):
    assert run_script("--url", f"{live_server}/graphql", "--suffix", "twice", "--assets", "2").returncode == 0
    again = run_script("--url", f"{live_server}/graphql", "--suffix", "twice", "--assets", "2")
    assert again.returncode == 1
    assert "error: signUp was refused: ALREADY_EXISTS at input.username" in again.stderr
    assert "Traceback" not in again.stderr


def test_onboarding_script_says_when_the_server_is_unreachable():
    result = run_script("--url", f"http://127.0.0.1:{free_port()}/graphql")
    assert result.returncode == 2
    assert "cannot reach" in result.stderr and "stepwise serve" in result.stderr
    assert "Traceback" not in result.stderr
