"""Security headers on every HTTP answer, and CORS for browser frontends on other origins, against
a real uvicorn."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import SQLITE_SETTINGS, running_server

FRONTEND = "https://labels.example.com"
QUERY = {"query": "{ me { id } }"}


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """One server allowing any origin (the default), one allowing only FRONTEND."""
    def env(name: str, **extra: str) -> dict[str, str]:
        folder = tmp_path_factory.mktemp(name)
        return {"STEPWISE_DATABASE_URL": f"sqlite://{folder / 'db.sqlite3'}", "STEPWISE_DATA_DIR": str(folder),
                **SQLITE_SETTINGS, **extra}
    with running_server(env("open")) as open_base, \
            running_server(env("closed", STEPWISE_ALLOWED_ORIGINS=FRONTEND)) as closed_base:
        yield open_base, closed_base


def test_every_answer_carries_the_security_headers(servers):
    base = servers[0]
    answers = {
        "graphql": httpx.post(f"{base}/graphql", json=QUERY, timeout=10),
        "refused": httpx.post(f"{base}/graphql", content=b"{", headers={"content-type": "application/json"}, timeout=10),
        "health": httpx.get(f"{base}/health", timeout=10),
        "missing": httpx.get(f"{base}/no-such-page", timeout=10),
        "graphiql": httpx.get(f"{base}/graphql", headers={"accept": "text/html"}, timeout=10),
    }
    for name, answer in answers.items():
        headers = answer.headers
        assert headers["x-content-type-options"] == "nosniff", name
        assert headers["x-frame-options"] == "DENY", name
        assert headers["referrer-policy"] == "no-referrer", name
        assert "strict-transport-security" not in headers, name  # plain HTTP: HSTS would mean nothing
        if name != "graphiql":  # JSON: no script of it may ever run
            assert headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'", name
        assert headers.get_list("x-content-type-options") == ["nosniff"], name  # never twice
    # The GraphiQL page runs its own scripts only: its inline one by hash, no other inline script.
    policy = dict(part.strip().split(" ", 1) for part in answers["graphiql"].headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert policy["script-src"].startswith("'self' 'sha256-") and "unsafe" not in policy["script-src"]
    assert policy["connect-src"] == "'self'"


def test_a_frontend_on_another_origin_may_call_the_api_when_allowed(servers):
    open_base, closed_base = servers
    preflight = {"origin": FRONTEND, "access-control-request-method": "POST",
                 "access-control-request-headers": "authorization, content-type"}
    # Allowed: the preflight passes and the answer names the origin.
    allowed = httpx.options(f"{closed_base}/graphql", headers=preflight, timeout=10)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == FRONTEND
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    answer = httpx.post(f"{closed_base}/graphql", json=QUERY, headers={"origin": FRONTEND}, timeout=10)
    assert answer.headers["access-control-allow-origin"] == FRONTEND
    assert "x-request-id" in answer.headers["access-control-expose-headers"].lower()
    # Another origin is refused by the browser: no permission in the answers.
    stranger = httpx.options(f"{closed_base}/graphql", headers={**preflight, "origin": "https://evil.example"}, timeout=10)
    assert stranger.status_code == 400 and "access-control-allow-origin" not in stranger.headers
    answer = httpx.post(f"{closed_base}/graphql", json=QUERY, headers={"origin": "https://evil.example"}, timeout=10)
    assert "access-control-allow-origin" not in answer.headers
    # With no list, any origin may call (tokens are never sent by a browser on its own).
    anyone = httpx.post(f"{open_base}/graphql", json=QUERY, headers={"origin": "https://evil.example"}, timeout=10)
    assert anyone.headers["access-control-allow-origin"] == "*"
