"""A campaign's PDF instructions over HTTP: uploaded by a MANAGER with the GraphQL multipart
request spec, kept on disk under a random name, downloaded by any worker of the dataset with the
same bearer token, 404 for everyone else; refused by its bytes or its size, never leaving a file."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import httpx
import pytest
from campaign_helpers import CREATE, LAUNCH, add_assets, campaign_with_steps
from stepwise.models.db.files import CampaignInstructions
from stepwise.models.stored_files import KEPT_NAME
from tortoise.exceptions import OperationalError

from tests.conftest import running_server

UPLOAD = """mutation($i: UploadInstructionsInput!) { uploadInstructions(input: $i) {
  campaign { id instructions { filename size url uploadedAt } } errors { code field message } } }"""
INSTRUCTIONS = "query($c: ID!) { campaign(id: $c) { instructions { filename size url uploadedAt } } }"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
MB = 1024 * 1024


@pytest.fixture
def upload_limit_mb() -> str | None:
    """STEPWISE_MAX_UPLOAD_MB for the test's server; None keeps the default (20)."""
    return None


@pytest.fixture
def settings_env(database_url, tmp_path, upload_limit_mb) -> dict[str, str]:
    env = {"STEPWISE_DATABASE_URL": database_url, "STEPWISE_DATA_DIR": str(tmp_path)}
    return env | ({"STEPWISE_MAX_UPLOAD_MB": upload_limit_mb} if upload_limit_mb else {})


@pytest.fixture
def files_dir(tmp_path) -> Path:
    return tmp_path / "files"


def on_disk(files_dir: Path) -> list[str]:
    return sorted(p.name for p in files_dir.iterdir()) if files_dir.exists() else []


def auth(token: str | None) -> dict:
    return {"authorization": f"Bearer {token}"} if token else {}


async def upload(api, token, campaign_id: str, content, filename="guide.pdf", content_type="application/pdf") -> dict:
    """One multipart request per the spec: `operations`, `map`, then the file part."""
    operations = json.dumps({"query": UPLOAD, "variables": {"i": {"campaignId": campaign_id, "file": None}}})
    response = await api.client.post(
        "/graphql", data={"operations": operations, "map": json.dumps({"0": ["variables.i.file"]})},
        files={"0": (filename, content, content_type)}, headers=auth(token),
    )
    assert response.status_code == 200, response.text
    return response.json()


def multipart_head(campaign_id: str, boundary: str, filename: str = "big.pdf") -> bytes:
    """A hand-made multipart body up to the file's first byte (to stream the rest chunk by chunk)."""
    operations = json.dumps({"query": UPLOAD, "variables": {"i": {"campaignId": campaign_id, "file": None}}})
    return (f"--{boundary}\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{operations}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{{\"0\": [\"variables.i.file\"]}}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"{filename}\"\r\n"
            "Content-Type: application/pdf\r\n\r\n").encode()


def payload(body: dict) -> dict:
    assert "errors" not in body, body["errors"]
    return body["data"]["uploadInstructions"]


async def new_campaign(api, world) -> str:
    campaign, _ = await campaign_with_steps(api, world, [("Annotate", "ANNOTATION", ["labeler1"])])
    return campaign


# ------------------------------------------------------------------------------ upload and download

async def test_a_manager_uploads_and_every_worker_downloads(api, world, files_dir):
    campaign = await new_campaign(api, world)
    result = payload(await upload(api, world.manager, campaign, PDF, filename="../Guide  v2 \u202eé.pdf"))
    assert result["errors"] == []
    instructions = result["campaign"]["instructions"]
    assert instructions["filename"] == "Guide v2 é.pdf"  # no directory, no direction override
    assert instructions["size"] == len(PDF) and instructions["uploadedAt"]
    assert instructions["url"] == f"/files/instructions/{campaign}"
    # Kept once, under a random name that owes nothing to the client's.
    [stored] = on_disk(files_dir)
    assert KEPT_NAME.match(stored) and (files_dir / stored).read_bytes() == PDF

    for token in (world.manager, world.contributor, world.labeler, world.admin):
        seen = (await api.data(INSTRUCTIONS, {"c": campaign}, token))["campaign"]["instructions"]
        assert seen == instructions
        response = await api.client.get(instructions["url"], headers=auth(token))
        assert response.status_code == 200 and response.content == PDF
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-length"] == str(len(PDF))
        assert response.headers["content-disposition"] == (
            "attachment; filename=\"Guide v2 _.pdf\"; filename*=UTF-8''Guide%20v2%20%C3%A9.pdf")
    head = await api.client.head(instructions["url"], headers=auth(world.labeler))
    assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == str(len(PDF))
    part = await api.client.get(instructions["url"], headers={**auth(world.labeler), "range": "bytes=0-4"})
    assert part.status_code == 206 and part.content == b"%PDF-"


async def test_a_labeler_finds_the_instructions_from_their_task(api, world):
    campaign = await new_campaign(api, world)
    await add_assets(api, world, ["street-1.jpg"])
    assert (await api.data(LAUNCH, {"c": campaign}, world.manager))["launchCampaign"]["errors"] == []
    assert payload(await upload(api, world.manager, campaign, PDF, filename="rules.pdf"))["errors"] == []
    groups = (await api.data(
        "query($o: ID!) { myTasks(organizationId: $o) { tasks { asset { filename } campaign { instructions { filename url } } } } }",
        {"o": world.ids["org"]}, world.labeler))["myTasks"]
    [task] = [task for group in groups for task in group["tasks"]]
    assert task["asset"]["filename"] == "street-1.jpg" and task["campaign"]["instructions"]["filename"] == "rules.pdf"
    response = await api.client.get(task["campaign"]["instructions"]["url"], headers=auth(world.labeler))
    assert response.status_code == 200 and response.content == PDF


async def test_everyone_else_gets_the_same_404(api, world):
    campaign = await new_campaign(api, world)
    assert payload(await upload(api, world.manager, campaign, PDF))["errors"] == []
    url = f"/files/instructions/{campaign}"
    other_version = await api.data(
        "mutation($i: CreateDatasetVersionInput!) { createDatasetVersion(input: $i) { datasetVersion { id } } }",
        {"i": {"datasetId": world.ids["dataset"], "name": "v2", "labels": ["car"]}}, world.manager)
    version_id = other_version["createDatasetVersion"]["datasetVersion"]["id"]
    bare = (await api.data(CREATE, {"v": version_id}, world.manager))["createCampaign"]["campaign"]["id"]
    missing = campaign[:-2] + ("AB" if not campaign.endswith("AB") else "CD")
    answers = [
        await api.client.get(url),  # anonymous
        await api.client.get(url, headers=auth("swt_" + "x" * 40)),  # unknown token
        await api.client.get(url, headers=auth(world.outsider)),  # another organization's ADMIN
        await api.client.get(url, headers=auth(world.member)),  # a member who is no worker of the dataset
        await api.client.get(f"/files/instructions/{bare}", headers=auth(world.manager)),  # no instructions yet
        await api.client.get(f"/files/instructions/{missing}", headers=auth(world.manager)),
        await api.client.get("/files/instructions/not-an-id", headers=auth(world.manager)),
        await api.client.get(f"/files/instructions/{world.ids['dataset']}", headers=auth(world.manager)),  # wrong type
    ]
    assert {(r.status_code, r.content) for r in answers} == {(404, answers[0].content)}
    assert b"NOT_FOUND" in answers[0].content
    assert (await api.client.get(url, headers=auth(world.labeler))).status_code == 200


async def test_only_managers_upload(api, world, files_dir):
    campaign = await new_campaign(api, world)
    for token, code in ((world.labeler, "FORBIDDEN"), (world.contributor, "FORBIDDEN"),
                        (world.outsider, "NOT_FOUND"), (world.member, "NOT_FOUND"), (None, "UNAUTHENTICATED")):
        body = await upload(api, token, campaign, PDF)
        assert body["data"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] == [code]
    assert on_disk(files_dir) == []
    assert (await api.data(INSTRUCTIONS, {"c": campaign}, world.manager))["campaign"]["instructions"] is None


async def test_an_anonymous_upload_writes_nothing(api, world, files_dir):
    campaign = await new_campaign(api, world)
    boundary = uuid.uuid4().hex
    seen: list[list[str]] = []

    async def body():
        yield multipart_head(campaign, boundary) + PDF
        for _ in range(8):
            seen.append(on_disk(files_dir))
            yield b"\0" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    response = await api.client.post("/graphql", content=body(),
                                     headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["UNAUTHENTICATED"]
    assert seen == [[]] * 8 and on_disk(files_dir) == []


# ------------------------------------------------------------------------------ refusals leave nothing

async def test_the_bytes_decide_the_type_not_the_name(api, world, files_dir):
    campaign = await new_campaign(api, world)
    for content in (PNG, b"", b"%PD"):
        result = payload(await upload(api, world.manager, campaign, content, filename="guide.pdf"))
        assert result["campaign"] is None
        assert [(e["code"], e["field"]) for e in result["errors"]] == [("UNSUPPORTED_FILE_TYPE", "input.file")]
        assert on_disk(files_dir) == []
    # A PDF is a PDF whatever it is called.
    result = payload(await upload(api, world.manager, campaign, PDF, filename="notes.txt", content_type="text/plain"))
    assert result["errors"] == [] and result["campaign"]["instructions"]["filename"] == "notes.txt"


@pytest.mark.parametrize("upload_limit_mb", ["0.25"])
async def test_a_file_over_the_limit_is_refused_while_it_streams(api, world, files_dir):
    """The server stops writing as soon as the file passes the limit: between the chunks the
    client sends, the partial file on disk never exceeds it, and is gone once past it."""
    limit = MB // 4
    campaign = await new_campaign(api, world)
    exact = payload(await upload(api, world.manager, campaign, PDF + b"\0" * (limit - len(PDF))))
    assert exact["errors"] == [] and exact["campaign"]["instructions"]["size"] == limit
    [kept] = on_disk(files_dir)

    boundary = uuid.uuid4().hex
    head = multipart_head(campaign, boundary) + b"%PDF-1.4\n"
    chunk = b"\0" * (32 * 1024)
    partial_sizes: list[int] = []

    async def body():
        yield head
        for _ in range(3 * limit // len(chunk)):
            partial_sizes.append(max([p.stat().st_size for p in files_dir.glob(".upload-*")], default=-1))
            yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    response = await api.client.post("/graphql", content=body(), headers={
        **auth(world.manager), "content-type": f"multipart/form-data; boundary={boundary}"})
    result = response.json()["data"]["uploadInstructions"]
    assert [(e["code"], e["field"]) for e in result["errors"]] == [("FILE_TOO_LARGE", "input.file")]
    assert max(partial_sizes) <= limit
    over_at = next(i for i, size in enumerate(partial_sizes) if size == -1 and i > 0)
    assert set(partial_sizes[over_at:]) == {-1}  # past the limit, nothing more is kept
    assert over_at <= limit // len(chunk) + 1
    assert on_disk(files_dir) == [kept]  # the earlier instructions stay, nothing else
    seen = (await api.data(INSTRUCTIONS, {"c": campaign}, world.manager))["campaign"]["instructions"]
    assert seen["size"] == limit


async def test_a_file_over_ten_megabytes_passes_the_default_limits(api, world, files_dir):
    campaign = await new_campaign(api, world)
    big = PDF + b"\0" * (10 * MB + MB // 2)
    result = payload(await upload(api, world.manager, campaign, big))
    assert result["errors"] == [] and result["campaign"]["instructions"]["size"] == len(big)
    response = await api.client.get(result["campaign"]["instructions"]["url"], headers=auth(world.labeler))
    assert response.status_code == 200 and len(response.content) == len(big)
    # A body beyond what any allowed upload needs is still refused by its Content-Length.
    response = await api.client.post(
        "/graphql", content=b"x", headers={**auth(world.manager), "content-type": "multipart/form-data; boundary=b",
                                           "content-length": str(22 * MB)})
    assert response.status_code == 413
    assert len(on_disk(files_dir)) == 1


async def test_replacing_instructions_removes_the_old_file(api, world, files_dir):
    campaign = await new_campaign(api, world)
    first = payload(await upload(api, world.manager, campaign, PDF, filename="first.pdf"))
    [old] = on_disk(files_dir)
    second_pdf = PDF + b"% second\n"
    second = payload(await upload(api, world.manager, campaign, second_pdf, filename="second.pdf"))
    assert second["errors"] == [] and second["campaign"]["instructions"]["filename"] == "second.pdf"
    [new] = on_disk(files_dir)
    assert new != old and (files_dir / new).read_bytes() == second_pdf
    assert first["campaign"]["instructions"]["url"] == second["campaign"]["instructions"]["url"]
    response = await api.client.get(second["campaign"]["instructions"]["url"], headers=auth(world.contributor))
    assert response.content == second_pdf
    assert await CampaignInstructions.all().count() == 1
    # Many replacements in a row (more than the files one request may carry): still one file.
    for round_number in range(12):
        assert payload(await upload(api, world.manager, campaign, PDF + b"%" * round_number))["errors"] == []
    assert len(on_disk(files_dir)) == 1


async def test_concurrent_uploads_to_one_campaign_leave_one_file(api, world, files_dir):
    campaign = await new_campaign(api, world)
    contents = [PDF + f"% upload {n}\n".encode() for n in range(4)]
    results = await asyncio.gather(*(upload(api, world.manager, campaign, c, filename=f"{n}.pdf")
                                     for n, c in enumerate(contents)))
    assert all(payload(result)["errors"] == [] for result in results)
    [stored] = on_disk(files_dir)
    current = (await api.data(INSTRUCTIONS, {"c": campaign}, world.manager))["campaign"]["instructions"]
    assert (files_dir / stored).read_bytes() == contents[int(current["filename"][0])]


async def test_a_failure_while_recording_leaves_no_file(api, world, files_dir, monkeypatch):
    campaign = await new_campaign(api, world)

    async def failing_write(*args, **kwargs):
        raise OperationalError("disk I/O error")

    # First upload: the INSERT fails.
    monkeypatch.setattr(CampaignInstructions, "create", classmethod(failing_write))
    body = await upload(api, world.manager, campaign, PDF)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["INTERNAL_SERVER_ERROR"]
    assert on_disk(files_dir) == []
    monkeypatch.undo()

    # A replacement: the UPDATE fails; the earlier instructions and their file stay as they were.
    kept = payload(await upload(api, world.manager, campaign, PDF, filename="kept.pdf"))["campaign"]["instructions"]
    [old] = on_disk(files_dir)
    monkeypatch.setattr(CampaignInstructions, "save", failing_write)
    body = await upload(api, world.manager, campaign, PDF + b"% new\n", filename="new.pdf")
    assert [e["extensions"]["code"] for e in body["errors"]] == ["INTERNAL_SERVER_ERROR"]
    assert on_disk(files_dir) == [old]
    monkeypatch.undo()
    assert (await api.data(INSTRUCTIONS, {"c": campaign}, world.manager))["campaign"]["instructions"] == kept


async def test_a_request_cut_off_mid_file_leaves_no_file(api, world, files_dir):
    """The client goes away in the middle of the file (the ASGI server reports http.disconnect)."""
    campaign = await new_campaign(api, world)
    boundary = "cut"
    messages = [multipart_head(campaign, boundary), PDF * 1000]
    seen_while_streaming: list[int] = []

    async def receive():
        if messages:
            return {"type": "http.request", "body": messages.pop(0), "more_body": True}
        seen_while_streaming.append(len(list(files_dir.glob(".upload-*"))))
        return {"type": "http.disconnect"}

    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/graphql", "raw_path": b"/graphql", "root_path": "", "query_string": b"", "server": ("test", 80),
             "client": ("127.0.0.1", 5000), "headers": [(b"host", b"test"), (b"authorization", f"Bearer {world.manager}".encode()),
                                                      (b"content-type", f"multipart/form-data; boundary={boundary}".encode())]}
    await api.app(scope, receive, send)
    assert seen_while_streaming == [1]  # the file was being written when the client left
    assert on_disk(files_dir) == []
    assert (await api.data(INSTRUCTIONS, {"c": campaign}, world.manager))["campaign"]["instructions"] is None


async def test_malformed_multipart_requests_are_400_and_leave_no_file(api, world, files_dir):
    campaign = await new_campaign(api, world)
    operations = json.dumps({"query": UPLOAD, "variables": {"i": {"campaignId": campaign, "file": None}}})
    for data in (
        {"operations": operations, "map": json.dumps({"1": ["variables.i.file"]})},  # no such part
        {"operations": operations, "map": json.dumps({"0": ["variables.nothing.here"]})},
        {"operations": operations, "map": json.dumps({"0": ["variables.i.file.9"]})},
        {"operations": "[1, 2]", "map": json.dumps({"0": ["variables.i.file"]})},
        {"operations": operations, "map": "{\"0\": \"variables.i.file\"}"},
    ):
        response = await api.client.post("/graphql", data=data, files={"0": ("a.pdf", PDF, "application/pdf")},
                                         headers=auth(world.manager))
        assert response.status_code == 400, (data, response.text)
        assert "Traceback" not in response.text
    long_header = {"0": ("a" * 9000 + ".pdf", PDF, "application/pdf")}
    response = await api.client.post("/graphql", data={"operations": operations, "map": '{"0": ["variables.i.file"]}'},
                                     files=long_header, headers=auth(world.manager))
    assert response.status_code == 400  # python-multipart bounds part headers
    response = await api.client.post("/graphql", content=b"--x\r\n", headers={
        **auth(world.manager), "content-type": "multipart/form-data"})  # no boundary
    assert response.status_code == 400
    assert on_disk(files_dir) == []
    # The file sent as a plain JSON value is not a file.
    body = await api.post(UPLOAD, {"i": {"campaignId": campaign, "file": "%PDF-1.4"}}, world.manager)
    assert [e["code"] for e in body["data"]["uploadInstructions"]["errors"]] == ["INVALID_INPUT"]


# ------------------------------------------------------------------------------ several processes

def test_every_server_process_serves_the_same_file(settings_env, tmp_path):
    """Two uvicorn processes on one database and data directory: what one stores, the other serves.
    Two servers share a broker (on SQLite with memory:// the second one is refused)."""
    from test_concurrency import redis_url

    shared = {**settings_env, "STEPWISE_BROKER_URL": redis_url()}
    with running_server(shared) as first, running_server(shared) as second:
        def call(base, query, variables, token=None):
            response = httpx.post(f"{base}/graphql", json={"query": query, "variables": variables},
                                  headers=auth(token), timeout=30)
            return response.json()["data"]

        token = call(first, "mutation($i: SignUpInput!) { signUp(input: $i) { token } }", {"i": {
            "username": "boss", "email": "boss@example.com", "password": "correct horse battery"}})["signUp"]["token"]
        org = call(first, "mutation { createOrganization(input: {name: \"Acme\"}) { organization { id } } }", {}, token)
        dataset = call(first, "mutation($o: ID!) { createDataset(input: {organizationId: $o, name: \"D\"}) { dataset { id } } }",
                       {"o": org["createOrganization"]["organization"]["id"]}, token)["createDataset"]["dataset"]["id"]
        version = call(first, "mutation($d: ID!) { createDatasetVersion(input: {datasetId: $d, name: \"v1\", labels: [\"a\"]}) "
                       "{ datasetVersion { id } } }", {"d": dataset}, token)["createDatasetVersion"]["datasetVersion"]["id"]
        campaign = call(first, CREATE, {"v": version}, token)["createCampaign"]["campaign"]["id"]
        operations = json.dumps({"query": UPLOAD, "variables": {"i": {"campaignId": campaign, "file": None}}})
        response = httpx.post(f"{first}/graphql", data={"operations": operations, "map": '{"0": ["variables.i.file"]}'},
                              files={"0": ("guide.pdf", PDF, "application/pdf")}, headers=auth(token), timeout=30)
        url = response.json()["data"]["uploadInstructions"]["campaign"]["instructions"]["url"]
        downloaded = httpx.get(f"{second}{url}", headers=auth(token), timeout=30)
        assert downloaded.status_code == 200 and downloaded.content == PDF
        assert len(list((tmp_path / "files").iterdir())) == 1
