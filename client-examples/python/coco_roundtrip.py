#!/usr/bin/env python3
# Run it with the project's virtualenv, against a running `stepwise serve`:
#
#     .venv/bin/python client-examples/python/coco_roundtrip.py --file my-images.coco.json
#     .venv/bin/python client-examples/python/coco_roundtrip.py --url http://127.0.0.1:8000/graphql \
#         --file my-images.coco.json --output export.coco.json
#
"""A COCO file in, a campaign launched, the accepted annotations back out.

What it does, printing each step:

  1. signs up a manager (or logs in with --username/--password), creates an organization and
     a dataset, and a version whose labels are the file's category names;
  2. creates a campaign with one ANNOTATION step assigned to the manager;
  3. uploads the COCO file with `importAnnotations` (a GraphQL multipart request), showing the
     upload's progress: every image becomes an asset, its boxes and polygons its pre-existing
     annotation; a refused file prints the typed error, which names the place in the file;
  4. launches the campaign (one task per imported image);
  5. downloads the version's export (`DatasetVersion.exportUrl`, same bearer token) to --output,
     showing the download's progress, and checks it holds every image.

It needs only httpx and the standard library. Exit status: 0 done, 1 refused or unexpected
answer (a one-line message), 2 the server cannot be reached.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8000/graphql"
IMPORT = """mutation($i: ImportAnnotationsInput!) { importAnnotations(input: $i) {
  datasetVersion { assetCount } assetsAdded assetsAnnotated shapesAdded errors { code field message } } }"""


class RoundTripError(Exception):
    """Something the script did not expect; its message is shown to the user."""


class Progress:
    """A one-line text progress bar on stderr (redrawn at most ten times a second)."""

    def __init__(self, what: str, total: int | None) -> None:
        self.what, self.total, self.done, self.drawn = what, total, 0, 0.0

    def advance(self, count: int) -> None:
        self.done += count
        if time.monotonic() - self.drawn >= 0.1 or (self.total and self.done >= self.total):
            self.drawn = time.monotonic()
            self.draw()

    def draw(self) -> None:
        mb = self.done / 1e6
        if self.total:
            share = min(self.done / self.total, 1.0)
            bar = "#" * int(share * 30)
            line = f"\r{self.what} [{bar:<30}] {share * 100:5.1f}% {mb:.1f}/{self.total / 1e6:.1f} MB"
        else:
            line = f"\r{self.what} {mb:.1f} MB"
        sys.stderr.write(line)
        sys.stderr.flush()

    def finish(self) -> None:
        self.draw()
        sys.stderr.write("\n")


class ReadingWithProgress:
    """The file to upload, reporting each chunk httpx reads from it while it streams."""

    def __init__(self, path: Path, progress: Progress) -> None:
        self.handle = open(path, "rb")
        self.progress = progress

    def read(self, size: int = -1) -> bytes:
        chunk = self.handle.read(size)
        self.progress.advance(len(chunk))
        return chunk

    def fileno(self) -> int:  # lets httpx announce the length (Content-Length)
        return self.handle.fileno()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.handle.seek(offset, whence)

    def tell(self) -> int:
        return self.handle.tell()

    def close(self) -> None:
        self.handle.close()


class Client:
    def __init__(self, url: str) -> None:
        self.url = url
        self.token: str | None = None
        self.http = httpx.Client(timeout=httpx.Timeout(30.0, read=600.0, write=600.0))

    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"} if self.token else {}

    def answer(self, response: httpx.Response) -> dict[str, Any]:
        if response.status_code != 200:
            raise RoundTripError(f"HTTP {response.status_code}: {response.text[:300]}")
        body = response.json()
        if body.get("errors"):
            first = body["errors"][0]
            raise RoundTripError(f"{first.get('extensions', {}).get('code', 'ERROR')}: {first['message']}")
        return body["data"]

    def call(self, query: str, variables: dict | None = None) -> dict[str, Any]:
        return self.answer(self.http.post(self.url, json={"query": query, "variables": variables or {}}, headers=self.headers()))

    def mutate(self, name: str, query: str, variables: dict) -> dict[str, Any]:
        """A mutation's payload; its typed `errors` become a RoundTripError naming code, field, message."""
        payload = self.call(query, variables)[name]
        if payload.get("errors"):
            error = payload["errors"][0]
            raise RoundTripError(f"{name} was refused: {error['code']} at {error.get('field')}: {error.get('message')}")
        return payload


def categories_of(path: Path) -> list[str]:
    """The category names of the file, which the version gets as labels."""
    try:
        with open(path, "rb") as handle:
            document = json.load(handle)
        return sorted({c["name"] for c in document.get("categories", [])})
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise RoundTripError(f"cannot read the categories of {path}: {error}") from None


def sign_in(client: Client, username: str | None, password: str | None) -> str:
    if username and password:
        payload = client.mutate("logIn", "mutation($i: LogInInput!) { logIn(input: $i) { token errors { code field message } } }",
                                {"i": {"username": username, "password": password}})
        client.token = payload["token"]
        return username
    username = f"coco-{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(12)
    payload = client.mutate("signUp", """mutation($i: SignUpInput!) { signUp(input: $i) {
        token errors { code field message } } }""",
                            {"i": {"username": username, "email": f"{username}@example.com", "password": password}})
    client.token = payload["token"]
    print(f"signed up {username} (password {password})")
    return username


def set_up(client: Client, labels: list[str], name: str) -> tuple[str, str]:
    """(version id, campaign id): an organization, a dataset, a version, a one-step campaign."""
    me = client.call("{ me { id } }")["me"]["id"]
    org = client.mutate("createOrganization", """mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) {
        organization { id } errors { code field message } } }""", {"i": {"name": name}})["organization"]["id"]
    dataset = client.mutate("createDataset", """mutation($i: CreateDatasetInput!) { createDataset(input: $i) {
        dataset { id } errors { code field message } } }""", {"i": {"organizationId": org, "name": name}})["dataset"]["id"]
    version = client.mutate("createDatasetVersion", """mutation($i: CreateDatasetVersionInput!) { createDatasetVersion(input: $i) {
        datasetVersion { id } errors { code field message } } }""",
                            {"i": {"datasetId": dataset, "name": "v1", "labels": labels}})["datasetVersion"]["id"]
    campaign = client.mutate("createCampaign", """mutation($v: ID!) { createCampaign(input: {datasetVersionId: $v}) {
        campaign { id } errors { code field message } } }""", {"v": version})["campaign"]["id"]
    client.mutate("addStep", """mutation($i: AddStepInput!) { addStep(input: $i) { step { id } errors { code field message } } }""",
                  {"i": {"campaignId": campaign, "name": "Annotate", "type": "ANNOTATION", "assigneeIds": [me]}})
    print(f"created dataset {name!r}, version v1 with labels {labels}, and a DRAFT campaign")
    return version, campaign


def import_file(client: Client, version: str, path: Path) -> dict[str, Any]:
    """importAnnotations as a GraphQL multipart request: `operations`, `map`, then the file."""
    operations = json.dumps({"query": IMPORT, "variables": {"i": {"datasetVersionId": version, "format": "COCO", "file": None}}})
    progress = Progress("uploading", path.stat().st_size)
    upload = ReadingWithProgress(path, progress)
    try:
        response = client.http.post(client.url, data={"operations": operations, "map": json.dumps({"0": ["variables.i.file"]})},
                                    files={"0": (path.name, upload, "application/json")}, headers=client.headers())
    finally:
        upload.close()
        progress.finish()
    payload = client.answer(response)["importAnnotations"]
    if payload["errors"]:
        error = payload["errors"][0]
        raise RoundTripError(f"the import was refused, nothing was added: {error['code']}: {error['message']}")
    return payload


def download(client: Client, version: str, output: Path) -> dict[str, Any]:
    url = client.call("query($v: ID!) { datasetVersion(id: $v) { exportUrl(format: COCO) } }", {"v": version})
    target = httpx.URL(client.url).join(url["datasetVersion"]["exportUrl"])
    progress = Progress("downloading", None)
    with client.http.stream("GET", target, headers=client.headers()) as response, open(output, "wb") as out:
        if response.status_code != 200:
            raise RoundTripError(f"the export answered HTTP {response.status_code}")
        for chunk in response.iter_bytes():
            out.write(chunk)
            progress.advance(len(chunk))
    progress.finish()
    with open(output, "rb") as handle:
        return json.load(handle)


def run(args: argparse.Namespace) -> None:
    client = Client(args.url)
    labels = categories_of(args.file)
    sign_in(client, args.username, args.password)
    version, campaign = set_up(client, labels, args.name or f"COCO import {secrets.token_hex(2)}")
    result = import_file(client, version, args.file)
    print(f"imported {result['assetsAdded']} images ({result['assetsAnnotated']} annotated, "
          f"{result['shapesAdded']} shapes); the version holds {result['datasetVersion']['assetCount']} assets")
    launched = client.mutate("launchCampaign", """mutation($c: ID!) { launchCampaign(input: {campaignId: $c}) {
        campaign { status progress { totalTasks } } errors { code field message } } }""", {"c": campaign})["campaign"]
    print(f"launched: the campaign is {launched['status']} with {launched['progress']['totalTasks']} tasks")
    exported = download(client, version, args.output)
    if len(exported["images"]) != result["assetsAdded"]:
        raise RoundTripError(f"the export holds {len(exported['images'])} images, expected {result['assetsAdded']}")
    print(f"exported {len(exported['images'])} images and {len(exported['annotations'])} annotations to {args.output}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("STEPWISE_URL", DEFAULT_URL), help=f"the GraphQL endpoint (default {DEFAULT_URL})")
    parser.add_argument("--file", type=Path, required=True, help="the COCO JSON file to import")
    parser.add_argument("--output", type=Path, default=Path("export.coco.json"), help="where the export goes")
    parser.add_argument("--username", help="log in as this user instead of signing up a new one")
    parser.add_argument("--password")
    parser.add_argument("--name", help="the organization and dataset name (default: a random one)")
    args = parser.parse_args(argv)
    try:
        run(args)
    except httpx.TransportError as error:
        print(f"error: cannot reach {args.url} ({error.__class__.__name__}); is `stepwise serve` running?", file=sys.stderr)
        return 2
    except RoundTripError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
