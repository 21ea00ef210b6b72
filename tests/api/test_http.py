"""Hostile and unusual HTTP input against a real uvicorn, and the GraphQL-level guards.

The server must answer every malformed request with a clean 4xx (never a stack trace), refuse
oversized bodies without reading them, tag every response with a request id, mask unexpected
errors, and refuse abusive documents (too deep, too many aliases, too costly).
"""

from __future__ import annotations

import asyncio
import os
import select
import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest
from graphql import get_introspection_query

from stepwise.models.db.datasets import Asset, Label
from stepwise.schema.ids import parse_id
from tests.conftest import running_server

GRAPHQL_JSON = {"content-type": "application/json"}
CREATE_ORG = "mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { organization { id } errors { code field } } }"
SIGN_UP = "mutation($i: SignUpInput!) { signUp(input: $i) { token errors { code field } } }"


def post(base: str, **kwargs) -> httpx.Response:
    return httpx.post(f"{base}/graphql", timeout=30, **kwargs)


def sign_up(base: str, username: str) -> str:
    body = post(base, json={"query": SIGN_UP, "variables": {
        "i": {"username": username, "email": f"{username}@example.com", "password": "correct horse battery"}}}).json()
    assert body["data"]["signUp"]["errors"] == [], body
    return body["data"]["signUp"]["token"]


def assert_clean_client_error(response: httpx.Response, status: int = 400) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    assert "Traceback" not in response.text
    assert 'File "' not in response.text
    assert response.headers.get("x-request-id")


# ------------------------------------------------------------------------------ malformed bodies

def test_malformed_json_is_a_clean_400(live_server):
    response = post(live_server, content=b'{"query": "{ me { id } }"', headers=GRAPHQL_JSON)
    assert_clean_client_error(response)


def test_query_that_is_not_a_string_is_a_400(live_server):
    assert_clean_client_error(post(live_server, json={"query": 5}))


def test_batched_requests_are_refused(live_server):
    batch = [{"query": "{ me { id } }"}, {"query": "{ me { id } }"}]
    assert_clean_client_error(post(live_server, json=batch))


NESTING = 100_000
HOSTILE_BODIES = {
    "empty": b"",
    "non-utf8": b'{"query": "\xff\xfe"}',
    "query-null": b'{"query": null}',
    "query-list": b'{"query": ["{ me { id } }"]}',
    "variables-string": b'{"query": "{ me { id } }", "variables": "not an object"}',
    "variables-list": b'{"query": "{ me { id } }", "variables": [1]}',
    "bare-string": b'"{ me { id } }"',
    "bare-number": b"42",
    "bare-null": b"null",
    "bare-true": b"true",
    # 100,000 nested arrays fit in 200 kB but exceed Python's recursion limit when decoded.
    "deep-nesting": b'{"query": "{ me { id } }", "variables": {"a": ' + b"[" * NESTING + b"]" * NESTING + b"}}",
}


def test_other_hostile_bodies_are_clean_400s(live_server):
    """Each body is a client mistake: a 400 with a request id, never a 500 or a stack trace."""
    failures = {}
    for name, body in HOSTILE_BODIES.items():
        response = post(live_server, content=body, headers=GRAPHQL_JSON)
        clean = "Traceback" not in response.text and 'File "' not in response.text
        if response.status_code != 400 or not clean or not response.headers.get("x-request-id"):
            failures[name] = (response.status_code, response.text[:80], response.headers.get("x-request-id"))
    assert not failures, "\n".join(f"{name}: HTTP {status} {text!r}, x-request-id={rid}" for name, (status, text, rid) in failures.items())
    # The server is still serving.
    assert post(live_server, json={"query": "{ me { id } }"}).json() == {"data": {"me": None}}


def test_unsupported_content_type_is_refused(live_server):
    response = post(live_server, content=b'{"query": "{ me { id } }"}', headers={"content-type": "text/plain"})
    assert response.status_code in (400, 415), response.text
    assert "Traceback" not in response.text


def test_mutations_are_not_run_over_get(live_server):
    signup = 'mutation { signUp(input: {username: "viaget", email: "viaget@example.com", password: "correct horse battery"}) { token } }'
    response = httpx.get(f"{live_server}/graphql", params={"query": signup}, headers={"accept": "application/json"}, timeout=10)
    assert response.status_code in (400, 405), response.text
    # The account was not created: the name is still free.
    sign_up(live_server, "viaget")


# ------------------------------------------------------------------------------ body size limit

@pytest.fixture
def small_server(settings_env):
    """A server that accepts request bodies of at most 1 MiB."""
    with running_server({**settings_env, "STEPWISE_MAX_REQUEST_MB": "1"}) as base:
        yield base


def _connect(base: str) -> socket.socket:
    parts = urlsplit(base)
    return socket.create_connection((parts.hostname, parts.port), timeout=10)


def _read_response(sock: socket.socket, deadline: float) -> bytes:
    """Whatever the server sends until it closes or the response head and body have arrived."""
    data = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([sock], [], [], 0.2)
        if not ready:
            if b"\r\n\r\n" in data:
                head, _, body = data.partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), None)
                if length is not None and len(body) >= length:
                    return data
            continue
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk
    return data


def test_declared_oversized_body_is_refused_without_being_read(small_server):
    """Headers announce 100 MiB; only a few bytes follow. A server that waited for the body would
    never answer: a 413 arriving means it judged by Content-Length alone."""
    host = urlsplit(small_server).netloc
    with _connect(small_server) as sock:
        sock.sendall(
            (f"POST /graphql HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
             f"Content-Length: {100 * 1024 * 1024}\r\nX-Request-Id: big-upload-1\r\n\r\n").encode() + b'{"query": "'
        )
        response = _read_response(sock, time.monotonic() + 10)
    head = response.partition(b"\r\n\r\n")[0].decode("latin-1").lower()
    assert head.startswith("http/1.1 413"), response[:300]
    assert "x-request-id: big-upload-1" in head
    assert b"Traceback" not in response


def test_declared_body_over_the_limit_is_a_413_over_httpx(small_server):
    response = post(small_server, content=b"x" * (1024 * 1024 + 1), headers=GRAPHQL_JSON)
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert response.headers["x-request-id"]


def test_streamed_body_over_the_limit_is_a_413(small_server):
    """Chunked transfer (no Content-Length): refused once the bytes received pass the limit."""
    host = urlsplit(small_server).netloc
    chunk = b'{"query": "' + b"a" * 65_000
    sent = 0
    response = b""
    with _connect(small_server) as sock:
        sock.sendall(
            (f"POST /graphql HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
             "Transfer-Encoding: chunked\r\n\r\n").encode()
        )
        # Once past the limit, the server gets up to 10 s to answer before more is sent: a busy
        # server may not yet have read what the client wrote (it sits in the socket buffers).
        waited = False
        try:
            while sent < 8 * 1024 * 1024:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sent += len(chunk)
                wait = 10 if sent > 1024 * 1024 and not waited else 0
                waited = waited or wait > 0
                if select.select([sock], [], [], wait)[0]:
                    break  # the server answered early
        except (BrokenPipeError, ConnectionResetError):
            pass
        response = _read_response(sock, time.monotonic() + 10)
    assert response.startswith(b"HTTP/1.1 413"), (sent, response[:300])
    assert sent < 8 * 1024 * 1024, "the server read 8 MiB without answering"


def test_streamed_body_under_the_limit_is_served(small_server):
    def body():
        yield b'{"query": "{ me { id } }", '
        yield b'"variables": {}}'

    response = httpx.post(f"{small_server}/graphql", content=body(), headers=GRAPHQL_JSON, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"me": None}}


# ------------------------------------------------------------------------------ over-long input

def test_over_long_strings_are_invalid_input(live_server):
    token = sign_up(live_server, "longstrings")
    headers = {"authorization": f"Bearer {token}"}
    name = "n" * 200_000
    body = post(live_server, json={"query": CREATE_ORG, "variables": {"i": {"name": name}}}, headers=headers)
    assert body.status_code == 200, body.text[:500]
    assert body.json() == {"data": {"createOrganization": {"organization": None,
                                                           "errors": [{"code": "INVALID_INPUT", "field": "input.name"}]}}}
    # The same string written inline in the document.
    inline = CREATE_ORG.replace("$i: CreateOrganizationInput!", "").replace("input: $i", f'input: {{name: "{name}"}}')
    inline = inline.replace("mutation()", "mutation")
    body = post(live_server, json={"query": inline}, headers=headers)
    assert body.status_code == 200, body.text[:500]
    assert body.json()["data"]["createOrganization"]["errors"] == [{"code": "INVALID_INPUT", "field": "input.name"}]
    # And through signUp, anonymously.
    body = post(live_server, json={"query": SIGN_UP, "variables": {
        "i": {"username": "u" * 200_000, "email": "e" * 200_000 + "@example.com", "password": "p" * 200_000}}})
    assert body.status_code == 200, body.text[:500]
    errors = body.json()["data"]["signUp"]["errors"]
    assert errors and errors[0]["code"] == "INVALID_INPUT" and errors[0]["field"].startswith("input.")
    # Nothing was created.
    orgs = post(live_server, json={"query": "{ organizations { id } }"}, headers=headers).json()
    assert orgs == {"data": {"organizations": []}}


def test_over_long_or_odd_bearer_token_is_anonymous(live_server):
    for token in ("swt_" + "a" * 8000, "a" * 8000, "swt_" + "é" * 50, "swt_" + "a" * 97):
        headers = {"authorization": f"Bearer {token}".encode("utf-8")}
        me = post(live_server, json={"query": "{ me { id } }"}, headers=headers)
        assert me.status_code == 200, (token[:10], me.text)
        assert me.json() == {"data": {"me": None}}
        orgs = post(live_server, json={"query": "{ organizations { id } }"}, headers=headers)
        assert orgs.status_code == 200, (token[:10], orgs.text)
        body = orgs.json()
        assert body["data"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]


# ------------------------------------------------------------------------------ health, ids, GraphiQL

def test_health_answers_ok(live_server):
    response = httpx.get(f"{live_server}/health", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["status"] == "ok"


def test_every_response_carries_a_request_id(live_server):
    responses = [
        httpx.get(f"{live_server}/health", timeout=10),
        post(live_server, json={"query": "{ me { id } }"}),
        post(live_server, json={"query": "{ organizations { id } }"}),
        post(live_server, content=b"{", headers=GRAPHQL_JSON),
        httpx.get(f"{live_server}/graphql", headers={"accept": "text/html"}, timeout=10),
        httpx.get(f"{live_server}/no-such-page", timeout=10),
    ]
    ids = [r.headers.get("x-request-id") for r in responses]
    assert all(ids), [(r.status_code, r.headers) for r in responses]
    assert len(set(ids)) == len(ids), "request ids must differ between requests"


def test_a_sane_client_request_id_is_echoed_and_a_hostile_one_replaced(live_server):
    sane = post(live_server, json={"query": "{ me { id } }"}, headers={"x-request-id": "trace-42.abc_DEF"})
    assert sane.headers["x-request-id"] == "trace-42.abc_DEF"
    for hostile in ("x" * 500, "evil id\twith spaces", "<script>", "a,b"):
        response = post(live_server, json={"query": "{ me { id } }"}, headers={"x-request-id": hostile})
        assert response.status_code == 200
        echoed = response.headers["x-request-id"]
        assert echoed and echoed != hostile and len(echoed) <= 64


def test_graphiql_is_served_to_browsers(live_server):
    response = httpx.get(f"{live_server}/graphql", headers={"accept": "text/html"}, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


def test_graphiql_loads_every_asset_from_this_server(live_server):
    """Offline use: the page names no other host, and each script and style it loads is served
    here, a production build with its licence beside it."""
    import re

    page = httpx.get(f"{live_server}/graphql", headers={"accept": "text/html"}, timeout=10).text
    assert "https://" not in page and "http://" not in page
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sorted(a.rsplit("/", 1)[1] for a in assets) == [
        "graphiql.min.css", "graphiql.min.js", "plugin-explorer.css", "plugin-explorer.umd.js",
        "react-dom.production.min.js", "react.production.min.js"]
    for asset in assets:
        served = httpx.get(f"{live_server}{asset}", timeout=10)
        assert served.status_code == 200, asset
        kind = "text/css" if asset.endswith(".css") else "javascript"
        assert kind in served.headers["content-type"] and "etag" in served.headers, asset
        assert "sourceMappingURL" not in served.text[-300:], asset  # the maps are not vendored
    for licence in ("react", "react-dom", "graphiql", "plugin-explorer"):
        text = httpx.get(f"{live_server}/static/graphiql/vendor/licenses/{licence}.LICENSE", timeout=10).text
        assert "MIT" in text or "Permission is hereby granted" in text, licence
    assert httpx.get(f"{live_server}/static/graphiql/vendor/../graphiql.html", timeout=10).status_code == 404


@pytest.fixture
def postgres_server(database_url, settings_env):
    """A server on its own throwaway PostgreSQL database (conftest drops it IF EXISTS afterwards)."""
    if not database_url.startswith("postgres"):
        pytest.skip("SQLite cannot be taken away from under the server")
    with running_server(settings_env) as base:
        yield base


def test_health_is_503_when_the_database_goes_away(database_url, postgres_server):
    import asyncpg

    live_server = postgres_server
    assert httpx.get(f"{live_server}/health", timeout=10).status_code == 200
    base = os.environ["STEPWISE_TEST_POSTGRES_URL"].replace("postgres://", "postgresql://", 1)
    name = database_url.rsplit("/", 1)[1]

    async def drop() -> None:
        conn = await asyncpg.connect(base)
        try:
            await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())
    deadline = time.monotonic() + 10
    statuses = []
    while time.monotonic() < deadline:
        response = httpx.get(f"{live_server}/health", timeout=10)
        statuses.append(response.status_code)
        if response.status_code == 503:
            break
        time.sleep(0.2)
    assert statuses[-1] == 503, statuses
    assert response.json()["status"] != "ok"
    assert response.headers["x-request-id"]
    assert "Traceback" not in response.text and name not in response.text
    # GraphQL requests keep getting clean answers, not a crashed process.
    answer = post(live_server, json={"query": "{ me { id } }"})
    assert answer.status_code == 200 and answer.json() == {"data": {"me": None}}


# ------------------------------------------------------------------------------ GraphQL-level guards

async def raw(api, query: str, variables: dict | None = None, token: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return await api.client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)


def assert_bad_request(response: httpx.Response, fragment: str) -> None:
    assert response.status_code in (200, 400), response.text
    body = response.json()
    assert body.get("data") is None, body
    assert body["errors"], body
    assert all(e["extensions"]["code"] == "BAD_REQUEST" for e in body["errors"]), body["errors"]
    assert any(fragment in e["message"] for e in body["errors"]), body["errors"]


DEEP = "query($id: ID!) { datasetVersion(id: $id) { " + "assets { edges { node { datasetVersion { " * 3 + "name" + " } } } }" * 3 + " } }"
ALIASES = "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(31)) + " }"
COSTLY = "{ organizations { datasets { versions { assets(first: 500) { edges { node { annotation { shapes { points { x } } } } } } } } } }"


async def test_too_deep_query_is_refused(sqlite_api):
    token, _ = await sqlite_api.sign_up("deep1")
    assert_bad_request(await raw(sqlite_api, DEEP, {"id": "x"}, token), "too deep")


async def test_too_many_aliases_are_refused(sqlite_api):
    token, _ = await sqlite_api.sign_up("aliases1")
    assert_bad_request(await raw(sqlite_api, ALIASES, token=token), "aliases")
    # 30 are fine.
    thirty = "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(30)) + " }"
    data = await sqlite_api.data(thirty, token=token)
    assert len(data) == 30


async def test_too_costly_query_is_refused(sqlite_api):
    token, _ = await sqlite_api.sign_up("costly1")
    assert_bad_request(await raw(sqlite_api, COSTLY, token=token), "costly")


async def test_a_page_without_first_costs_the_default_page(sqlite_api):
    """`assets` without `first` returns up to 100 items: it must not be counted as one."""
    token, _ = await sqlite_api.sign_up("costly2")
    with_first = COSTLY.replace("assets(first: 500)", "assets(first: 100)")
    without_first = COSTLY.replace("assets(first: 500)", "assets")
    assert_bad_request(await raw(sqlite_api, with_first, token=token), "costly")
    assert_bad_request(await raw(sqlite_api, without_first, token=token), "costly")


async def test_limits_apply_to_anonymous_callers_too(sqlite_api):
    assert_bad_request(await raw(sqlite_api, ALIASES), "aliases")
    assert_bad_request(await raw(sqlite_api, COSTLY), "costly")


async def test_limits_cannot_be_dodged_with_fragments(sqlite_api):
    token, _ = await sqlite_api.sign_up("fragments1")
    query = """{ organizations { ...O } }
      fragment O on Organization { datasets { ...D } }
      fragment D on Dataset { versions { ...V } }
      fragment V on DatasetVersion { assets(first: 500) { edges { node { annotation { shapes { points { x } } } } } } }"""
    assert_bad_request(await raw(sqlite_api, query, token=token), "costly")
    many = "{ ...F } fragment F on Query { " + " ".join(f"a{i}: me {{ id }}" for i in range(31)) + " }"
    assert_bad_request(await raw(sqlite_api, many, token=token), "aliases")


async def test_graphiql_introspection_passes_the_limits(sqlite_api):
    for token in (None, (await sqlite_api.sign_up("introspect1"))[0]):
        response = await raw(sqlite_api, get_introspection_query(descriptions=True), token=token)
        assert response.status_code == 200, response.text[:500]
        body = response.json()
        assert "errors" not in body, body["errors"]
        names = {t["name"] for t in body["data"]["__schema"]["types"]}
        assert {"Query", "Mutation", "Asset", "DatasetVersion"} <= names


async def test_unexpected_errors_are_masked(api, world):
    _, version_pk = parse_id(world.ids["version"])
    label = await Label.filter(version_id=version_pk).first()
    await Asset.create(
        version_id=version_pk, filename="corrupt.jpg", width=10, height=10,
        annotation=[{"label": label.id, "kind": "HEXAGON", "points": [[1, 1], [2, 2]]}],
    )
    query = """query($id: ID!) { datasetVersion(id: $id) { assetCount
      assets { edges { node { filename annotation { shapes { kind label { name } } } } } } } }"""
    response = await raw(api, query, {"id": world.ids["version"]}, world.manager)
    assert response.status_code == 200, response.text
    body = response.json()
    [error] = body["errors"]
    assert error["message"] == "Unexpected error."
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["extensions"]["requestId"] == response.headers["x-request-id"]
    for leak in ("HEXAGON", "ValueError", "Traceback", "ShapeKind", "stepwise", ".py"):
        assert leak not in response.text, leak
    # The rest of the answer survives: the broken field alone is null.
    version = body["data"]["datasetVersion"]
    assert version["assetCount"] == 1
    assert version["assets"]["edges"][0]["node"] == {"filename": "corrupt.jpg", "annotation": None}


async def test_field_suggestions_only_for_signed_in_callers(sqlite_api):
    token, _ = await sqlite_api.sign_up("suggest1")
    signed_in = (await raw(sqlite_api, "{ organizatio { id } }", token=token)).json()
    assert signed_in.get("data") is None
    assert "Did you mean" in signed_in["errors"][0]["message"]
    assert "organization" in signed_in["errors"][0]["message"].split("Did you mean", 1)[1]

    for query in ("{ organizatio { id } }", "{ me { usernam } }", "mutation { signUpp }"):
        anonymous = (await raw(sqlite_api, query)).json()
        assert anonymous.get("data") is None, anonymous
        assert anonymous["errors"], anonymous
        for error in anonymous["errors"]:
            assert "Did you mean" not in error["message"], error
            assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
