#!/usr/bin/env python3
"""Onboarding a team on Stepwise through its GraphQL API, step by step.

What it does, printing each step:

  1. signs up an admin and creates an organization;
  2. signs up a second user and adds them to the organization by username;
  3. invites an e-mail address nobody has signed up with yet (a pending invitation);
  4. creates a dataset and makes the second user one of its CONTRIBUTOR workers;
  5. creates a dataset version with labels;
  6. sends addAssets a batch with mistakes in it: the typed payload `errors` say what is wrong
     (`code` and `field`), and nothing at all is added (`assetCount` stays 0);
  7. adds the corrected batch, some assets with a pre-existing RECTANGLE annotation;
  8. pages through the version's assets with cursors.

Run it against a server started with `stepwise serve`:

    python client-examples/onboarding.py --url http://127.0.0.1:8000/graphql

It needs only httpx (`pip install httpx`) and the standard library. It exits with status 1 and
a one-line message on any GraphQL error it did not expect, and with status 2 when the server
cannot be reached.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8000/graphql"
DEFAULT_PASSWORD = "onboarding-Example-2024"
LABELS = ["car", "person", "bicycle"]


class OnboardingError(Exception):
    """Something the script did not expect; its message is shown to the user."""


class GraphQLClient:
    """A minimal GraphQL-over-HTTP client: one POST per operation, bearer token when signed in."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url
        self.token: str | None = None
        self.http = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The operation's `data`; any top-level GraphQL error is unexpected here."""
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        response = self.http.post(self.url, json={"query": query, "variables": variables or {}}, headers=headers)
        try:
            body = response.json()
        except ValueError:
            raise OnboardingError(f"HTTP {response.status_code} from {self.url}, not a GraphQL response") from None
        if body.get("errors"):
            first = body["errors"][0]
            code = (first.get("extensions") or {}).get("code", "no code")
            request_id = response.headers.get("x-request-id", "-")
            raise OnboardingError(f"GraphQL error {code}: {first.get('message')} (request id {request_id})")
        if response.status_code != 200 or body.get("data") is None:
            raise OnboardingError(f"HTTP {response.status_code} from {self.url} without data")
        return body["data"]

    def mutate(self, query: str, variables: dict[str, Any], name: str) -> dict[str, Any]:
        """A mutation's payload, which must report no business-rule `errors`."""
        payload = self.execute(query, variables)[name]
        if payload["errors"]:
            described = "; ".join(f"{e['code']} at {e.get('field')}: {e['message']}" for e in payload["errors"])
            raise OnboardingError(f"{name} was refused: {described}")
        return payload


# ------------------------------------------------------------------------------ operations

SIGN_UP = """
mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) { token user { id username } errors { code field message } }
}"""

CREATE_ORGANIZATION = """
mutation CreateOrganization($input: CreateOrganizationInput!) {
  createOrganization(input: $input) { organization { id name viewerRole } errors { code field message } }
}"""

INVITE_MEMBER = """
mutation InviteMember($input: InviteMemberInput!) {
  inviteMember(input: $input) {
    membership { user { username } role }
    invitation { email role }
    errors { code field message }
  }
}"""

CREATE_DATASET = """
mutation CreateDataset($input: CreateDatasetInput!) {
  createDataset(input: $input) { dataset { id name } errors { code field message } }
}"""

ADD_WORKER = """
mutation AddWorker($input: AddDatasetWorkerInput!) {
  addDatasetWorker(input: $input) { worker { user { username } role } errors { code field message } }
}"""

CREATE_VERSION = """
mutation CreateVersion($input: CreateDatasetVersionInput!) {
  createDatasetVersion(input: $input) { datasetVersion { id name labels { name } } errors { code field message } }
}"""

ADD_ASSETS = """
mutation AddAssets($input: AddAssetsInput!) {
  addAssets(input: $input) { assets { id filename } errors { code field message } }
}"""

ASSET_COUNT = """
query AssetCount($id: ID!) { datasetVersion(id: $id) { assetCount } }"""

ASSET_PAGE = """
query AssetPage($id: ID!, $first: Int!, $after: String) {
  datasetVersion(id: $id) {
    assets(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { filename width height annotation { shapes { kind label { name } area } } } }
    }
  }
}"""


# ------------------------------------------------------------------------------ the walkthrough

def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def detail(message: str) -> None:
    print(f"    {message}", flush=True)


def sign_up(client: GraphQLClient, username: str, password: str) -> tuple[str, str]:
    """(token, user id) of a new account."""
    variables = {"input": {"username": username, "email": f"{username}@example.com", "password": password}}
    payload = client.mutate(SIGN_UP, variables, "signUp")
    return payload["token"], payload["user"]["id"]


def rectangle(label: str, x: float, y: float, width: float, height: float) -> dict[str, Any]:
    """A RECTANGLE shape is given by its top-left and bottom-right corners."""
    return {"label": label, "kind": "RECTANGLE", "points": [{"x": x, "y": y}, {"x": x + width, "y": y + height}]}


def good_assets(count: int) -> list[dict[str, Any]]:
    """`count` images; every third one comes with a pre-existing annotation."""
    assets = []
    for i in range(count):
        asset: dict[str, Any] = {
            "filename": f"street-{i:03d}.jpg",
            "width": 1280,
            "height": 720,
            "url": f"https://images.example.com/street-{i:03d}.jpg",
        }
        if i % 3 == 0:
            asset["shapes"] = [rectangle("car", 100 + i, 200, 300, 150), rectangle("person", 700, 180, 60, 170)]
        assets.append(asset)
    return assets


def run(args: argparse.Namespace) -> None:
    suffix = args.suffix or secrets.token_hex(4)
    admin_name, colleague_name = f"admin-{suffix}", f"colleague-{suffix}"
    client = GraphQLClient(args.url)
    try:
        step(f"Signing up the admin {admin_name!r}")
        admin_token, _ = sign_up(client, admin_name, args.password)
        client.token = admin_token
        detail(f"password: {args.password}")

        step("Creating an organization")
        organization = client.mutate(
            CREATE_ORGANIZATION, {"input": {"name": f"Onboarding {suffix}"}}, "createOrganization"
        )["organization"]
        detail(f"{organization['name']} ({organization['id']}), your role: {organization['viewerRole']}")

        step(f"Signing up a colleague {colleague_name!r} and adding them by username")
        client.token = None  # signUp needs no credentials
        _, colleague_id = sign_up(client, colleague_name, args.password)
        client.token = admin_token
        membership = client.mutate(
            INVITE_MEMBER,
            {"input": {"organizationId": organization["id"], "usernameOrEmail": colleague_name, "role": "MEMBER"}},
            "inviteMember",
        )["membership"]
        detail(f"{membership['user']['username']} joined as {membership['role']}")

        newcomer = f"newcomer-{suffix}@example.com"
        step(f"Inviting {newcomer}, who has no account yet")
        invitation = client.mutate(
            INVITE_MEMBER,
            {"input": {"organizationId": organization["id"], "usernameOrEmail": newcomer, "role": "MEMBER"}},
            "inviteMember",
        )["invitation"]
        detail(f"pending invitation for {invitation['email']} as {invitation['role']} (joins on sign-up)")

        step("Creating a dataset")
        dataset = client.mutate(
            CREATE_DATASET, {"input": {"organizationId": organization["id"], "name": "Street scenes"}}, "createDataset"
        )["dataset"]
        detail(f"{dataset['name']} ({dataset['id']})")

        step(f"Adding {colleague_name} to the dataset as a CONTRIBUTOR")
        worker = client.mutate(
            ADD_WORKER, {"input": {"datasetId": dataset["id"], "userId": colleague_id, "role": "CONTRIBUTOR"}},
            "addDatasetWorker",
        )["worker"]
        detail(f"{worker['user']['username']} is {worker['role']}")

        step(f"Creating version 'v1' with labels {', '.join(LABELS)}")
        version = client.mutate(
            CREATE_VERSION, {"input": {"datasetId": dataset["id"], "name": "v1", "labels": LABELS}},
            "createDatasetVersion",
        )["datasetVersion"]
        detail(f"{version['name']} ({version['id']}), labels: {[label['name'] for label in version['labels']]}")

        step("Adding assets with mistakes in them (expecting typed errors)")
        bad = good_assets(3)
        bad[1]["width"] = 0  # dimensions must be positive
        bad[2]["shapes"] = [rectangle("truck", 10, 10, 50, 50)]  # not a label of this version
        payload = client.execute(ADD_ASSETS, {"input": {"datasetVersionId": version["id"], "assets": bad}})["addAssets"]
        if not payload["errors"]:
            raise OnboardingError("addAssets accepted a batch with a zero width")
        for error in payload["errors"]:
            detail(f"refused: code={error['code']} field={error['field']} message={error['message']!r}")
        count = client.execute(ASSET_COUNT, {"id": version["id"]})["datasetVersion"]["assetCount"]
        detail(f"assets added: {len(payload['assets'])}; assetCount is still {count} (all or nothing)")
        if payload["assets"] or count != 0:
            raise OnboardingError(f"a refused addAssets left {count} asset(s) behind")

        assets = good_assets(args.assets)
        annotated = sum(1 for asset in assets if "shapes" in asset)
        step(f"Adding {len(assets)} assets, {annotated} of them with a pre-existing RECTANGLE annotation")
        added = client.mutate(
            ADD_ASSETS, {"input": {"datasetVersionId": version["id"], "assets": assets}}, "addAssets"
        )["assets"]
        detail(f"added {len(added)}: {added[0]['filename']} ... {added[-1]['filename']}")

        step(f"Paging through the assets, {args.page_size} at a time")
        after, page, seen = None, 0, 0
        while True:
            connection = client.execute(
                ASSET_PAGE, {"id": version["id"], "first": args.page_size, "after": after}
            )["datasetVersion"]["assets"]
            page += 1
            names = [edge["node"]["filename"] for edge in connection["edges"]]
            shapes = sum(len((edge["node"]["annotation"] or {}).get("shapes", [])) for edge in connection["edges"])
            seen += len(names)
            detail(f"page {page}: {len(names)} asset(s) {names[0] if names else ''}..{names[-1] if names else ''}, "
                   f"{shapes} shape(s); {seen}/{connection['totalCount']} seen")
            if not connection["pageInfo"]["hasNextPage"]:
                break
            after = connection["pageInfo"]["endCursor"]
        if seen != len(assets):
            raise OnboardingError(f"paging saw {seen} assets, expected {len(assets)}")

        step("Done")
        detail(f"sign in as {admin_name} (password above) to explore {organization['name']} in GraphiQL at {args.url}")
    finally:
        client.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Onboard a team on a Stepwise server, step by step.")
    parser.add_argument("--url", default=DEFAULT_URL, help=f"the GraphQL endpoint (default {DEFAULT_URL})")
    parser.add_argument("--suffix", help="makes usernames unique (default: random)")
    parser.add_argument("--password", default=DEFAULT_PASSWORD, help="password of both new accounts")
    parser.add_argument("--assets", type=int, default=12, help="how many assets to add (default 12)")
    parser.add_argument("--page-size", type=int, default=5, help="assets per page when listing (default 5)")
    args = parser.parse_args(argv)
    if args.assets < 1:
        parser.error("--assets must be at least 1")
    if not 1 <= args.page_size <= 500:
        parser.error("--page-size must be between 1 and 500")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        run(args)
    except OnboardingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except httpx.TransportError as error:
        print(f"error: cannot reach {args.url}: {error}. Is `stepwise serve` running?", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
